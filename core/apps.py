from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from core import metrics
        from core.database import on_connection_created

        connection_created.connect(on_connection_created)
        metrics.add_sampler(metrics.sample_pool)
        setting_changed.connect(metrics.forget_settings)
