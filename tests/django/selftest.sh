#!/usr/bin/env bash
# Round trip through driver.py for every engine/database against the local services:
#   create -> read -> update -> read -> set-expiry -> read -> cycle -> login -> whoami
#   -> whoami after a secret rotation (key cycles) -> set-password -> whoami (anonymous)
#   -> flush -> read
# Every run uses its own PostgreSQL schema, MySQL database, Redis key prefix and temp dir,
# and removes them at the end (also on failure).
#
#   tests/django/selftest.sh            # installs the venv first (.ci/django-setup.sh)
#   SK_PYTHON=/path/python tests/django/selftest.sh
#   tests/django/selftest.sh file cache # only some cases (names as printed)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${SK_PYTHON:-$("$ROOT/.ci/django-setup.sh" | tail -n1)}

RUN="sk_selftest_$(date +%s)_$$"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/$RUN.XXXX")
OLD_SECRET="selftest-old-secret-$RUN"
NEW_SECRET="selftest-new-secret-$RUN"

# Isolation for every case; each case only picks SK_ENGINE and SK_DB on top.
export SK_SQLITE_PATH="$TMP/db.sqlite3"
export SK_PG_SCHEMA="$RUN"
export SK_MYSQL_DB="$RUN"
export SK_CACHE_KEY_PREFIX="$RUN"
export SK_FILE_PATH="$TMP/files"
export SK_SECRET_KEY="$OLD_SECRET"
unset SK_SECRET_KEY_FALLBACKS SK_ENGINE SK_DB

cleanup() {
  # teardown drops the schema / database / Redis keys named above (nothing else).
  SK_DB=postgres "$PY" "$HERE/driver.py" teardown >/dev/null || true
  SK_DB=mysql "$PY" "$HERE/driver.py" teardown >/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }

# drv ARGS... : run the driver, keep its JSON in $OUT.
drv() {
  OUT=$("$PY" "$HERE/driver.py" "$@") || fail "driver $* exited non-zero"
}
# check EXPR : Python expression over d (= the last JSON output) must be true.
check() {
  "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$OUT" "$1" || fail "expected $1, got $OUT"
}
field() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$OUT" "$1"; }

DATA='{"s": "caf\u00e9 \ud83d\udc4d <&>", "nested": {"l": [1, 2.5, null, true, {"k": "v"}]},
       "big": 123456789012345678901234567890, "nan": NaN, "inf": Infinity, "f": 0.1}'

round_trip() {
  local engine=$1 db=$2 user="user_$RUN"
  export SK_ENGINE=$engine SK_DB=$db SK_SECRET_KEY=$OLD_SECRET
  unset SK_SECRET_KEY_FALLBACKS
  drv migrate

  drv create --data "$DATA"
  local key; key=$(field key)
  drv read --key "$key"
  check 'd["exists"] and d["data"]["s"] == "café 👍 <&>" and d["data"]["big"] == 123456789012345678901234567890'
  check 'd["data"]["nan"] != d["data"]["nan"] and d["data"]["inf"] == float("inf") and d["data"]["f"] == 0.1'
  check 'd["data"]["nested"] == {"l": [1, 2.5, None, True, {"k": "v"}]} and d["expiry_age"] == 1209600'

  drv update --key "$key" --set '{"count": 2, "s": "changed"}' --delete f
  check 'd["existed"]'
  key=$(field key)  # signed_cookies: every save is a new cookie value
  drv read --key "$key"
  check 'd["exists"] and d["data"]["count"] == 2 and d["data"]["s"] == "changed" and "f" not in d["data"]'

  drv set-expiry --key "$key" --seconds 600
  key=$(field key)
  drv read --key "$key"
  check 'd["data"]["_session_expiry"] == 600 and d["expiry_age"] == 600 and not d["expire_at_browser_close"]'
  drv raw --key "$key"
  check 'any(v for k, v in d.items() if k != "engine")'
  [ "$engine" != cache ] || check 'd["cache"]["ttl"] > 590 and d["cache"]["value_hex"].startswith("8005")'

  drv cycle --key "$key"
  local old=$key; key=$(field key)
  [ "$key" != "$old" ] || fail "cycle kept the key"
  if [ "$engine" != signed_cookies ]; then  # old cookies cannot be revoked
    drv read --key "$old"; check 'not d["exists"]'
  fi
  drv read --key "$key"; check 'd["exists"] and d["data"]["count"] == 2'

  drv login --key "$key" --user "$user"
  old=$key; key=$(field key)
  [ "$key" != "$old" ] || fail "login did not cycle the key"
  check 'd["user_id"].isdigit() and len(d["hash"]) == 64'
  drv read --key "$key"; check 'd["data"]["count"] == 2 and "_auth_user_hash" in d["data"]'
  drv whoami --key "$key"
  check "d['user'] == '$user' and d['key'] == '$key'"

  # Rotate the secret: the session (and its auth hash) verify with the fallback, and
  # get_user() cycles the key and stores the hash made with the new secret.
  export SK_SECRET_KEY=$NEW_SECRET SK_SECRET_KEY_FALLBACKS=$OLD_SECRET
  drv whoami --key "$key"
  check "d['user'] == '$user' and d['key'] not in ('$key', None)"
  key=$(field key)
  drv whoami --key "$key"
  check "d['user'] == '$user' and d['key'] == '$key'"

  drv set-password --user "$user" --password "changed-$RUN"
  drv whoami --key "$key"
  check 'd["user"] is None and d["key"] is None'  # get_user() flushed the session

  drv flush --key "$key"
  if [ "$engine" != signed_cookies ]; then
    drv read --key "$key"; check 'not d["exists"]'
  fi
  drv clear-expired
}

CASES=(db-sqlite db-postgres db-mysql cache cached_db file signed_cookies)
[ $# -eq 0 ] || CASES=("$@")
for CASE in "${CASES[@]}"; do
  start=$SECONDS
  case $CASE in
    db-sqlite) round_trip db sqlite ;;
    db-postgres) round_trip db postgres ;;
    db-mysql) round_trip db mysql ;;
    cache) round_trip cache sqlite ;;
    cached_db) round_trip cached_db sqlite ;;
    file) round_trip file sqlite ;;
    signed_cookies) round_trip signed_cookies sqlite ;;
    *) fail "unknown case (known: db-sqlite db-postgres db-mysql cache cached_db file signed_cookies)" ;;
  esac
  echo "ok   $CASE ($((SECONDS - start))s)"
done
echo "selftest: all ${#CASES[@]} cases passed"
