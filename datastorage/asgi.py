"""ASGI entry point, for servers that speak ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

application = get_asgi_application()

from storage.frontdoor import announce  # noqa: E402 (needs the settings configured above)

# The front door (storage/frontdoor.py) is WSGI middleware: here Django answers every
# request, and one log line says so at start-up.
announce(asgi=True)
