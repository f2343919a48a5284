from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "API access (tokens and grants)"
    default_auto_field = "django.db.models.BigAutoField"
