"""Background tasks of the factory (django-tasks, database backend: needs only the database)."""

from django_tasks import task

from factory.services.migrations import migration_run


@task()
def apply_version(storage_id: int, number: int) -> str:
    """Apply a declared storage version to its table (DDL, concurrent index builds)."""
    return migration_run(storage_id=storage_id, number=number)
