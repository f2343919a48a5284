"""The HTTP ceiling: a trivial WSGI app, served by granian with the service's own settings.

Whatever the records API does per request costs something on top of this; `make bench`
measures both in the same run.
"""

from collections.abc import Callable, Iterable

BODY = b'{"status":"ok"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
