#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv for the Django interop tests at
# target/django-venv and installs Django 5.2 LTS plus the drivers for Redis, PostgreSQL
# and MySQL/MariaDB. Idempotent: when the venv already satisfies the requirements it only
# checks and exits. The last line of its output is the venv's python path:
#
#   PY=$(.ci/django-setup.sh | tail -n1)
#   SK_ENGINE=db "$PY" tests/django/driver.py --engine db migrate
#
# Django 5.2 is the newest line that runs on Python 3.11 (6.x needs 3.12); the session
# formats are the same (see shared/django/DJANGO.md).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SK_DJANGO_VENV:-target/django-venv}
PYTHON=${PYTHON:-python3}
REQS=("django>=5.2,<5.3" "redis>=5,<7" "psycopg[binary]>=3.1,<4" "PyMySQL>=1.1,<2")
STAMP="$VENV/.sk-requirements"
WANT="${REQS[*]}"

log() { echo "django-setup: $*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$(cd "$VENV/bin" && pwd)/python"

# Fast path: same requirement list as last time and every requirement still importable.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] &&
  "$PY" -c 'import django, redis, psycopg, pymysql' >/dev/null 2>&1; then
  log "up to date"
else
  log "installing: $WANT"
  "$PY" -m pip install --quiet --disable-pip-version-check "${REQS[@]}" >&2
  echo "$WANT" >"$STAMP"
fi

"$PY" - >&2 <<'PYEOF'
import importlib.metadata as md
for name in ("Django", "redis", "psycopg", "psycopg-binary", "PyMySQL"):
    try:
        print(f"django-setup: {name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(f"django-setup: {name} (not installed)")
PYEOF
echo "$PY"
