from django.apps import AppConfig


class FactoryConfig(AppConfig):
    name = "factory"
    verbose_name = "Storage factory"
    default_auto_field = "django.db.models.BigAutoField"
