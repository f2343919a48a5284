from django.apps import AppConfig
from django.core import checks


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Storage records"

    def ready(self) -> None:
        from core import metrics
        from factory.worker import on_resume
        from storage.by_filter import jobs_resume
        from storage.checks import front_door
        from storage.runtime import sample_model_cache

        checks.register(front_door)
        metrics.add_sampler(sample_model_cache)
        on_resume(jobs_resume)  # a job a worker left half done: the next one finishes it
