"""WSGI entry point: what gunicorn serves (`datastorage.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

application = get_wsgi_application()
