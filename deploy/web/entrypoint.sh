#!/bin/sh
# Muelle's web process in the deployment: secrets from files, the deploy checks, migrations, the
# static files for the proxy, then exec uvicorn (tutorial.server), which gets docker stop's SIGTERM.
set -eu

# Secrets come from files (compose secrets at /run/secrets), never from the image or the repo.
read_secret() { # VAR FILE
  if [ -z "$(printenv "$1" || true)" ] && [ -s "$2" ]; then
    export "$1=$(cat "$2")"
  fi
}
read_secret SECRET_KEY /run/secrets/muelle_secret_key
if [ -z "${DATABASE_URL:-}" ] && [ -s /run/secrets/postgres_password ]; then
  DATABASE_URL="$(python -c 'import sys, urllib.parse as u; print("postgres://%s:%s@%s/%s" % (u.quote(sys.argv[1], safe=""), u.quote(open(sys.argv[2]).read().strip(), safe=""), sys.argv[3], sys.argv[4]))' \
    "${POSTGRES_USER:-muelle}" /run/secrets/postgres_password "${POSTGRES_HOST:-postgres}" "${POSTGRES_DB:-muelle}")"
  export DATABASE_URL
fi

# The proxy serves /static/ from this volume: refresh it with this image's files (an upgrade
# brings new hashed names; old ones stay for pages still open).
cp -a /app/static-dist/. /app/var/staticfiles/

python manage.py check --deploy --fail-level ERROR

# Several web processes start at once (MUELLE_WEB_PROCESSES): one migrates at a time, holding a
# PostgreSQL advisory lock for as long as its migrate runs; the next finds nothing left to do.
migrate_one_at_a_time() {
  python - <<'PY'
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings")
django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        # Released when this process's database session ends.
        cursor.execute("SELECT pg_advisory_lock(hashtext('muelle-migrate'))")
call_command("migrate", interactive=False, verbosity=0)
PY
}
# PostgreSQL may still be starting: migrations retry for a minute.
tries=0
until migrate_one_at_a_time; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || exit 1
  sleep 2
done
exec python -m tutorial.server --host 0.0.0.0 --port 8000 "$@"
