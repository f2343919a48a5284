from django.apps import AppConfig


class FactoryConfig(AppConfig):
    name = "factory"
    verbose_name = "Storage factory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import metrics
        from core.views import report_in_health
        from factory.metrics import SchemaChangeCollector
        from factory.selectors import worker_status

        metrics.add_collector(SchemaChangeCollector())
        report_in_health("worker", lambda: worker_status().state)
