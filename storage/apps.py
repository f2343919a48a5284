from django.apps import AppConfig
from django.core import checks


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Storage records"

    def ready(self) -> None:
        from core import metrics
        from storage.checks import front_door
        from storage.runtime import sample_model_cache

        checks.register(front_door)
        metrics.add_sampler(sample_model_cache)
