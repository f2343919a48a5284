"""A version counter for every storage table that exists (factory.schema.record_versions).

Tables made before counted `_version` per record from 1; from here on a record's versions
come from its storage's counter, which starts above the table's highest `_version`, so no
version a record holds now is given again. (Versions of records deleted before this
migration are not known; a key deleted and created again can meet one of those only if its
storage's highest version never passed it.)
"""

from django.db import connection, migrations


def _tables(apps):
    from factory.schema import names

    storages = apps.get_model("factory", "StorageDefinition").objects.exclude(serving_version=None)
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    for name in storages.values_list("name", flat=True):
        table = names.table_name(name)
        if table in existing:
            yield table


def create_counters(apps, schema_editor):
    from factory.schema import record_versions

    for table in _tables(apps):
        with connection.cursor() as cursor:
            quoted = schema_editor.quote_name(table)
            cursor.execute(
                f"SELECT COALESCE(MAX({schema_editor.quote_name('_version')}), 0) FROM {quoted}"
            )
            (highest,) = cursor.fetchone()
        record_versions.create_counter(schema_editor, table, after=highest)
        record_versions.attach_counter(schema_editor, table)


def drop_counters(apps, schema_editor):
    from factory.schema import names

    for table in _tables(apps):
        counter = schema_editor.quote_name(names.version_counter(table))
        if connection.vendor == "postgresql":
            column = schema_editor.quote_name("_version")
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} ALTER COLUMN {column} DROP DEFAULT"
            )
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS {counter}")
        else:
            schema_editor.execute(f"DROP TABLE IF EXISTS {counter}")


class Migration(migrations.Migration):
    dependencies = [("factory", "0002_worker_heartbeat")]

    operations = [migrations.RunPython(create_counters, drop_counters)]
