"""WSGI entry point: what granian serves (`datastorage.wsgi:application`, see serve.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

application = get_wsgi_application()
