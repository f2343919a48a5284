from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.database import install_stale_plan_retry

        connection_created.connect(install_stale_plan_retry)
