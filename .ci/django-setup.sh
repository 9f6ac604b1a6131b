#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv for the Django interop tests of one Django
# series, and installs that Django plus the drivers for Redis, Memcached, PostgreSQL and
# MySQL/MariaDB. Idempotent: when the venv already satisfies the requirements it only
# checks and exits. The last line of its output is the venv's python path:
#
#   PY=$(.ci/django-setup.sh | tail -n1)        # Django 5.2 LTS in target/django-5.2
#   PY=$(.ci/django-setup.sh 6.1 | tail -n1)    # Django 6.1 in target/django-6.1
#   SK_ENGINE=db "$PY" tests/django/driver.py --engine db migrate
#
# The tested series and their interpreters (the newest Python each supports that this kind
# of machine carries):
#
#   5.2 (LTS)  Python 3.11   python3 (the system's), or $SK_PYTHON_3_11
#   6.0        Python 3.12   $SK_PYTHON_3_12, python3.12 on PATH, or pyenv's 3.12.x
#   6.1        Python 3.13   $SK_PYTHON_3_13, python3.13 on PATH, or pyenv's 3.13.x
#
# A missing interpreter is an error (exit 1) that names what was looked for. Set
# SK_DJANGO_VENV to put the venv somewhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

SERIES=${1:-5.2}
log() { echo "django-setup ($SERIES): $*" >&2; }

case "$SERIES" in
  5.2) PYVER=3.11; NEXT=5.3 ;;
  6.0) PYVER=3.12; NEXT=6.1 ;;
  6.1) PYVER=3.13; NEXT=6.2 ;;
  *) log "unknown Django series (tested: 5.2, 6.0, 6.1)"; exit 2 ;;
esac

# The interpreter: an explicit override, then pythonX.Y on PATH, then pyenv's newest X.Y.z,
# then (for 3.11, the system's version) python3 itself. Each candidate must really be X.Y.
find_python() {
  local var="SK_PYTHON_${PYVER/./_}" candidates=()
  if [ -n "${!var:-}" ]; then candidates+=("${!var}"); fi
  if command -v "python$PYVER" >/dev/null 2>&1; then candidates+=("$(command -v "python$PYVER")"); fi
  local root
  root=$( (command -v pyenv >/dev/null 2>&1 && pyenv root) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  local found
  found=$(ls -d "$root/versions/$PYVER".* 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$found" ]; then candidates+=("$found/bin/python3"); fi
  if command -v python3 >/dev/null 2>&1; then candidates+=("$(command -v python3)"); fi
  for c in "${candidates[@]}"; do
    if [ -x "$c" ] && [ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$PYVER" ]; then
      echo "$c"
      return 0
    fi
  done
  log "no Python $PYVER found (Django $SERIES needs it): looked at \$$var, python$PYVER on PATH, $root/versions/$PYVER.*, python3"
  return 1
}

VENV=${SK_DJANGO_VENV:-target/django-$SERIES}
REQS=("django>=$SERIES,<$NEXT" "redis>=5,<7" "pymemcache>=4,<5" "psycopg[binary]>=3.1,<4" "PyMySQL>=1.1,<2")
STAMP="$VENV/.sk-requirements"
WANT="${REQS[*]}"

PYTHON=$(find_python)
if [ -x "$VENV/bin/python" ] &&
  [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$PYVER" ]; then
  log "$VENV is not a Python $PYVER venv; recreating it"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$(cd "$VENV/bin" && pwd)/python"

# Fast path: same requirement list as last time and every requirement still importable.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] &&
  "$PY" -c 'import django, redis, pymemcache, psycopg, pymysql' >/dev/null 2>&1; then
  log "up to date"
else
  log "installing: $WANT"
  "$PY" -m pip install --quiet --disable-pip-version-check "${REQS[@]}" >&2
  echo "$WANT" >"$STAMP"
fi

"$PY" - "$SERIES" >&2 <<'PYEOF'
import importlib.metadata as md
import sys
series = sys.argv[1]
versions = []
for name in ("Django", "redis", "pymemcache", "psycopg", "psycopg-binary", "PyMySQL"):
    try:
        versions.append(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        versions.append(f"{name} (not installed)")
print(f"django-setup ({series}): Python {sys.version.split()[0]}; " + ", ".join(versions))
PYEOF
echo "$PY"
