from django.apps import AppConfig
from django.core import checks


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = "Storage records"

    def ready(self) -> None:
        from storage.checks import front_door

        checks.register(front_door)
