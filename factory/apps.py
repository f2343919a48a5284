from django.apps import AppConfig


class FactoryConfig(AppConfig):
    name = "factory"
    verbose_name = "Storage factory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import metrics
        from factory.metrics import SchemaChangeCollector

        metrics.add_collector(SchemaChangeCollector())
