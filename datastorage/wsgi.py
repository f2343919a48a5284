"""WSGI entry point: what granian serves (`datastorage.wsgi:application`, see serve.py)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

django_application = get_wsgi_application()

from storage.frontdoor import FrontDoor, announce  # noqa: E402 (needs the settings above)

# Plain records requests are answered in front of Django's request cycle (storage/frontdoor.py);
# when settings turn that off, one log line says why.
application = FrontDoor(django_application)
announce()

# Everything loaded so far (modules, settings, the app registry, URL patterns) lives as
# long as the process: moved out of the collector's generations, a full collection no
# longer walks it on every pass, which shortens the pauses that make a request's tail.
gc.freeze()
