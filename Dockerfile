# datastorage API image: granian serving datastorage.wsgi, configured from the environment
# (datastorage/serve.py: HOST, PORT, WEB_CONCURRENCY, LOG_LEVEL and GRANIAN_* variables).
#
#   docker build -t datastorage .
#   docker run -e DATABASE_URL=postgres://... -e SECRET_KEY=... -p 8000:8000 datastorage
#
# The image does not migrate on start: run `python manage.py migrate` once per release
# (docker-compose.yml does it in its one-shot `migrate` service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. Every runtime
# dependency ships a manylinux wheel (psycopg[binary] bundles libpq): no compiler needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The server runs as a non-root user.
RUN useradd --create-home --uid 10001 --user-group app

# The code stays owned by root (read-only to the server); only var/ (the SQLite file
# used when DATABASE_URL is unset) is writable by the app user.
COPY . .
RUN python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/var \
    && chown app:app /app/var

USER app
EXPOSE 8000

# Liveness only (no database round trip), so a database outage does not mark the
# container unhealthy. The request goes to 127.0.0.1: keep it in ALLOWED_HOSTS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/api/v1/health/live/', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# The launcher execs granian, so granian's main process is PID 1 and gets `docker stop`'s
# SIGTERM: workers stop accepting and finish their requests (GRANIAN_WORKERS_KILL_TIMEOUT).
CMD ["python", "-m", "datastorage.serve"]
