#!/usr/bin/env python3
"""Reads and writes sessions through Django's own session engines, for interop tests.

    driver.py [--engine E] COMMAND [flags]      (--engine may also follow COMMAND)

Prints one JSON document on stdout and exits 0; on error prints a message on stderr and
exits 1 (2 for bad usage). The engine defaults to $SK_ENGINE (else "db"); everything else
(database, Redis, file directory, secrets) comes from the SK_* variables read by
sk_site/settings.py. See README.md for every command and its output.

Each command works the way one request through SessionMiddleware would: it builds a
SessionStore for the given key, does its work through Django's API, and then saves exactly
when the middleware would (session modified and not empty). No HTTP is involved.
"""

import argparse
import json
import os
import sys
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENGINES = ("db", "cache", "cached_db", "file", "signed_cookies")
DEFAULT_PASSWORD = "sk-password"
# Where sk_site/urls.py routes django.contrib.auth.views.LoginView.
LOGIN_VIEW_PATH = "/accounts/login/"


class Fail(Exception):
    """An expected error: reported as a one-line message on stderr, exit status 1."""


def json_object(text):
    """JSON object from the command line; Python's json accepts NaN/Infinity/big ints."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid JSON: {e}")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def aware_datetime(text):
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, e.g. 2030-01-01T00:00:00+00:00")
    return value


# --- helpers ---------------------------------------------------------------------------


def store(key=None):
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore(key)


def finish(session):
    """SessionMiddleware's response phase: save when modified and not empty."""
    from django.contrib.sessions.backends.base import UpdateError

    if session.modified and not session.is_empty():
        try:
            session.save()
        except UpdateError:
            raise Fail("session was deleted before it could be saved (SessionInterrupted)")
    return session.session_key


def loaded(session, key):
    """Load the session; True if a live record for `key` was found (any engine)."""
    session.keys()  # forces load()
    # db/cache/cached_db reset the key on a miss; file replaces an expired session with a
    # new key; signed_cookies keeps the key but calls create() (modified) on a bad cookie.
    return key is not None and session.session_key == key and not session.modified


def request_for(session):
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = session
    request.user = AnonymousUser()
    return request


def is_memcached():
    from django.conf import settings

    return "Memcache" in settings.CACHES["default"]["BACKEND"]


def memcached_raw(key):
    """What memcached holds under `key`, on the server pymemcache's HashClient picks:
    the server, the value (hex), the client flags and the remaining TTL (-1: none)."""
    import socket

    from django.core.cache import cache

    client = cache._cache._get_client(key)
    host, port = client.server
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(f"mg {key} v f t\r\n".encode())
        buf = b""
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        line, rest = buf.split(b"\r\n", 1)
        parts = line.decode().split()
        out = {"key": key, "server": f"{host}:{port}", "value_hex": None, "flags": None, "ttl": -2}
        if parts[0] != "VA":
            return out
        size = int(parts[1])
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        flags = {p[0]: p[1:] for p in parts[2:]}
        out.update(value_hex=rest[:size].hex(), flags=int(flags["f"]), ttl=int(flags["t"]))
        return out


def redis_client():
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def mysql_server_sql(sql):
    """Run one statement on the MySQL server without selecting a database."""
    import pymysql
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = pymysql.connect(
        host=db["HOST"], port=int(db["PORT"]), user=db["USER"], password=db["PASSWORD"]
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


# --- commands --------------------------------------------------------------------------


def cmd_migrate(args):
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    db = settings.DATABASES["default"]
    if settings.SK_DB == "postgres" and settings.SK_PG_SCHEMA:
        with connection.cursor() as cur:
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.SK_PG_SCHEMA}"')
        connection.close()  # reconnect so search_path sees the new schema
    elif settings.SK_DB == "mysql" and settings.SK_MYSQL_DB:
        mysql_server_sql(
            f"CREATE DATABASE IF NOT EXISTS `{settings.SK_MYSQL_DB}` CHARACTER SET utf8mb4"
        )
    call_command("migrate", interactive=False, verbosity=0)
    out = {"db": settings.SK_DB, "name": str(db["NAME"])}
    if settings.SK_DB == "postgres":
        out["schema"] = settings.SK_PG_SCHEMA or "public"
    return out


def cmd_teardown(args):
    """Drop what the isolation variables name: PG schema, MySQL database, Redis prefix."""
    from django.conf import settings
    from django.db import connection

    out = {}
    if settings.SK_DB == "postgres" and settings.SK_PG_SCHEMA:
        if settings.SK_PG_SCHEMA == "public":
            raise Fail("refusing to drop schema public")
        with connection.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{settings.SK_PG_SCHEMA}" CASCADE')
        out["dropped_schema"] = settings.SK_PG_SCHEMA
    if settings.SK_DB == "mysql" and settings.SK_MYSQL_DB:
        mysql_server_sql(f"DROP DATABASE IF EXISTS `{settings.SK_MYSQL_DB}`")
        out["dropped_database"] = settings.SK_MYSQL_DB
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    # memcached cannot enumerate keys: a test's keys there expire by their TTL.
    if prefix and not is_memcached():
        r = redis_client()
        keys = list(r.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            r.delete(*keys)
        out["deleted_redis_keys"] = len(keys)
    return out


def cmd_create(args):
    s = store()
    s.update(args.data)
    return {"key": finish(s)}


def cmd_read(args):
    s = store(args.key)
    exists = loaded(s, args.key)
    return {
        "exists": exists,
        "data": dict(s.items()),
        "expiry_age": s.get_expiry_age(),
        "expiry_date": s.get_expiry_date().isoformat(),
        "expire_at_browser_close": s.get_expire_at_browser_close(),
    }


def cmd_update(args):
    s = store(args.key)
    existed = loaded(s, args.key)
    s.update(args.set)
    for k in args.delete:
        s.pop(k, None)
    return {"key": finish(s), "existed": existed}


def cmd_set_expiry(args):
    s = store(args.key)
    if args.seconds is not None:
        s.set_expiry(args.seconds)
    elif args.delta is not None:
        s.set_expiry(timedelta(seconds=args.delta))
    elif args.iso is not None:
        s.set_expiry(args.iso)
    elif args.browser_close:
        s.set_expiry(0)
    else:
        s.set_expiry(None)  # a no-op (nothing saved) when the session had no expiry
    return {"key": finish(s)}


def cmd_cycle(args):
    s = store(args.key)
    s.cycle_key()
    return {"key": finish(s)}


def cmd_flush(args):
    s = store(args.key)
    s.flush()
    finish(s)
    return {}


def get_or_create_user(name, password):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    try:
        user = User.objects.get_by_natural_key(name)
    except User.DoesNotExist:
        return User.objects.create_user(name, password=password or DEFAULT_PASSWORD)
    if password is not None and not user.check_password(password):
        raise Fail(f"wrong password for user {name!r}")
    return user


def cmd_login(args):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, login

    user = get_or_create_user(args.user, args.password)
    s = store(None if args.new else args.key)
    login(request_for(s), user, backend="django.contrib.auth.backends.ModelBackend")
    return {
        "key": finish(s),
        "user_id": s[SESSION_KEY],
        "backend": s[BACKEND_SESSION_KEY],
        "hash": s[HASH_SESSION_KEY],
    }


def cmd_login_view(args):
    """A login through Django's real `LoginView` with Django's test Client, CSRF enforced:
    GET the form (the token from its `csrfmiddlewaretoken` field), then POST the username,
    the password and that token (or --bad-token instead). The session key the client holds
    afterwards, the status of each request and the logged-in user's pk."""
    from django.contrib.auth import SESSION_KEY
    from django.test import Client

    user = get_or_create_user(args.user, None)
    client = Client(enforce_csrf_checks=True)
    form = client.get(LOGIN_VIEW_PATH)
    html = form.content.decode()
    marker = 'name="csrfmiddlewaretoken" value="'
    if marker not in html:
        raise Fail(f"no CSRF field in the login form (status {form.status_code})")
    token = html.split(marker, 1)[1].split('"', 1)[0]
    sent = "x" * len(token) if args.bad_token else token
    response = client.post(
        LOGIN_VIEW_PATH,
        {"username": args.user, "password": args.password or DEFAULT_PASSWORD,
         "csrfmiddlewaretoken": sent},
    )
    cookie = client.cookies.get("sessionid")
    key = cookie.value if cookie is not None and cookie.value else None
    logged_in = None
    if key:
        s = store(key)
        logged_in = s.get(SESSION_KEY)
    return {"form_status": form.status_code, "status": response.status_code,
            "token": token, "key": key, "user_id": str(user.pk), "logged_in": logged_in}


def cmd_logout(args):
    from django.contrib.auth import logout

    s = store(args.key)
    logout(request_for(s))
    finish(s)
    return {}


def cmd_whoami(args):
    from django.contrib.auth import get_user

    s = store(args.key)
    user = get_user(request_for(s))
    # get_user may cycle the key (hash made with a fallback secret) or flush (mismatch).
    key = finish(s)
    return {"user": user.get_username() if user.is_authenticated else None, "key": key}


def cmd_set_password(args):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    try:
        user = User.objects.get_by_natural_key(args.user)
    except User.DoesNotExist:
        raise Fail(f"no user {args.user!r}")
    if args.iterations:
        # A PBKDF2 hash with a small iteration count: what Django's default hasher makes,
        # quick to check (Django verifies any iteration count).
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        hasher = PBKDF2PasswordHasher()
        hasher.iterations = args.iterations
        user.password = hasher.encode(args.password, hasher.salt())
    else:
        user.set_password(args.password)
    user.save()
    return {"user_id": str(user.pk)}


def cmd_set_active(args):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    try:
        user = User.objects.get_by_natural_key(args.user)
    except User.DoesNotExist:
        raise Fail(f"no user {args.user!r}")
    user.is_active = args.active == "1"
    user.save()
    return {"user_id": str(user.pk)}


def cmd_last_login(args):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get_by_natural_key(args.user)
    return {"last_login": user.last_login.isoformat() if user.last_login else None}


def cmd_password_hash(args):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    try:
        user = User.objects.get_by_natural_key(args.user)
    except User.DoesNotExist:
        raise Fail(f"no user {args.user!r}")
    return {"user_id": str(user.pk), "password": user.password}


def cmd_clear_expired(args):
    from django.core.management import call_command

    call_command("clearsessions")
    return {}


def cmd_raw(args):
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    engine = settings.SK_ENGINE
    s = store(args.key)
    out = {"engine": engine}
    if engine in ("db", "cached_db"):
        cast = {"sqlite": "expire_date", "postgres": "expire_date::text"}.get(
            settings.SK_DB, "CAST(expire_date AS CHAR)"
        )
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT session_data, {cast} FROM django_session WHERE session_key = %s",
                [args.key],
            )
            row = cur.fetchone()
        out["db"] = row and {"session_data": row[0], "expire_date": str(row[1])}
        if row:
            # The instant the row expires, as Django reads it back: a naive value (USE_TZ =
            # False) is local time in TIME_ZONE, made aware as Django's make_aware does.
            from django.contrib.sessions.models import Session
            from django.utils import timezone

            value = Session.objects.get(session_key=args.key).expire_date
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
            out["db"]["expire_instant"] = value.astimezone(dt_timezone.utc).isoformat()
    if engine in ("cache", "cached_db") and is_memcached():
        out["cache"] = memcached_raw(cache.make_and_validate_key(s.cache_key))
    elif engine in ("cache", "cached_db"):
        redis_key = cache.make_and_validate_key(s.cache_key)
        r = redis_client()
        value = r.get(redis_key)
        out["cache"] = {
            "redis_key": redis_key,
            "value_hex": value.hex() if value is not None else None,
            "ttl": r.ttl(redis_key),  # -2: no such key, -1: no TTL
        }
    if engine == "file":
        path = Path(s._key_to_file(args.key))
        if path.exists():
            st = path.stat()
            out["file"] = {
                "path": str(path),
                "content": path.read_text(encoding="latin-1"),
                "mtime": st.st_mtime,
                "mode": oct(st.st_mode & 0o777),
            }
        else:
            out["file"] = {"path": str(path), "content": None}
    if engine == "signed_cookies":
        parts = args.key.rsplit(":", 2)
        out["cookie"] = {"value": args.key}
        if len(parts) == 3:
            from django.core.signing import b62_decode

            out["cookie"].update(payload=parts[0], timestamp=b62_decode(parts[1]), signature=parts[2])
    return out


# --- flash messages and CSRF (issue 18 parts 2 and 3) ---------------------------------

MESSAGE_STORAGES = {
    "session": "django.contrib.messages.storage.session.SessionStorage",
    "cookie": "django.contrib.messages.storage.cookie.CookieStorage",
    "fallback": "django.contrib.messages.storage.fallback.FallbackStorage",
}

MESSAGES_TEMPLATE = "{% for m in messages %}[{{ m.tags }}] {{ m }}\n{% endfor %}"


def response_cookie(response, name):
    """The cookie `name` the response sets: its value, or None when it deletes it."""
    if name not in response.cookies:
        return {"set": False}
    morsel = response.cookies[name]
    deleted = str(morsel["max-age"]) == "0"
    return {"set": True, "deleted": deleted, "value": None if deleted else morsel.value,
            "header": morsel.OutputString()}


def cmd_messages(args):
    """One request through MessageMiddleware: the storage named by --storage on the
    session --key and the `messages` cookie --cookie; --add queues messages, --read
    renders them with a template as a page would; then storage.update(response)."""
    from django.contrib.messages.storage.base import Message
    from django.http import HttpResponse
    from django.template import Context, Engine
    from django.utils.module_loading import import_string
    from django.utils.safestring import SafeData, mark_safe

    s = store(None if args.new else args.key)
    request = request_for(s)
    if args.cookie:
        request.COOKIES["messages"] = args.cookie
    storage = import_string(MESSAGE_STORAGES[args.storage])(request)
    request._messages = storage
    for item in args.add:
        level, text = item[0], item[1]
        extra = item[2] if len(item) > 2 else ""
        if len(item) > 3 and item[3]:
            text = mark_safe(text)
        storage.add(level, text, extra)
    out = {}
    if args.read:
        out["rendered"] = Engine().from_string(MESSAGES_TEMPLATE).render(
            Context({"messages": storage})
        )
        out["messages"] = [
            {"level": m.level, "message": str(m.message), "extra_tags": m.extra_tags,
             "tags": m.tags, "safe": isinstance(m.message, SafeData)}
            for m in storage
        ]
    response = HttpResponse()
    unstored = storage.update(response) or []
    out["unstored"] = len(unstored)
    out["cookie"] = response_cookie(response, "messages")
    out["key"] = finish(s)
    out["session_messages"] = s.get("_messages")
    return out


def csrf_request(args, method):
    from django.test import RequestFactory

    headers = {}
    if getattr(args, "origin", None):
        headers["HTTP_ORIGIN"] = args.origin
    if getattr(args, "referer", None):
        headers["HTTP_REFERER"] = args.referer
    if getattr(args, "header_token", None):
        headers["HTTP_X_CSRFTOKEN"] = args.header_token
    factory = RequestFactory()
    secure = bool(getattr(args, "secure", False))
    host = getattr(args, "host", None) or "testserver"
    if method == "POST":
        data = {"csrfmiddlewaretoken": args.token} if getattr(args, "token", None) else {}
        return factory.post("/", data, secure=secure, HTTP_HOST=host, **headers)
    return factory.get("/", secure=secure, HTTP_HOST=host, **headers)


def cmd_csrf_form(args):
    """Renders `{% csrf_token %}` as a form page would (CsrfViewMiddleware, then the
    template, then process_response): the masked token, saved in the session under
    CSRF_USE_SESSIONS."""
    from django.http import HttpResponse
    from django.middleware.csrf import CsrfViewMiddleware
    from django.template import Engine, RequestContext

    s = store(None if args.new else args.key)
    request = csrf_request(args, "GET")
    request.session = s
    engine = Engine(context_processors=["django.template.context_processors.csrf"])
    html = {}

    def view(request):
        html["form"] = engine.from_string("{% csrf_token %}").render(RequestContext(request))
        return HttpResponse(html["form"])

    middleware = CsrfViewMiddleware(view)
    response = middleware(request)
    token = html["form"].split('value="', 1)[1].split('"', 1)[0]
    return {"key": finish(s), "form": html["form"], "token": token,
            "secret": s.get("_csrftoken"), "status": response.status_code}


def cmd_csrf_post(args):
    """A POST through CsrfViewMiddleware with the session --key: the status (200 when the
    view ran, 403 when refused) and Django's reason."""
    from django.http import HttpResponse
    from django.middleware.csrf import CsrfViewMiddleware

    s = store(args.key)
    request = csrf_request(args, "POST")
    request.session = s

    def view(request):
        return HttpResponse("ok")

    middleware = CsrfViewMiddleware(view)
    reason = {}

    def reject(request, why):
        reason["reason"] = why
        return HttpResponse(why, status=403)

    middleware._reject = reject
    # What BaseHandler does around the view: process_request, process_view, the view.
    middleware.process_request(request)
    response = middleware.process_view(request, view, (), {}) or view(request)
    response = middleware.process_response(request, response)
    finish(s)
    return {"status": response.status_code, "reason": reason.get("reason")}


# --- command line ----------------------------------------------------------------------


def cmd_put_python(args):
    """A session of Python values (cache engine: Django pickles the dict)."""
    from demo import values

    s = store()
    s.update(values.allowlisted() if args.kind == "values" else values.with_object())
    return {"key": finish(s)}


def cmd_check_python(args):
    """Compares a session with what `put-python` stored (after the Rust side's changes
    for --after-rust): equal and of the same type, key by key."""
    from demo import values

    want = values.allowlisted() if args.kind == "values" else values.with_object()
    if args.after_rust:
        want = values.after_rust(want) if args.kind == "values" else dict(want, count=2)
    s = store(args.key)
    exists = loaded(s, args.key)
    got = dict(s.items())
    return {
        "exists": exists,
        "keys": sorted(got),
        "wrong": sorted(k for k in want if k not in got or not values.same(want[k], got[k])),
        "extra": sorted(k for k in got if k not in want),
    }


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    engine_help = "session engine (default: $SK_ENGINE or db)"
    p.add_argument("--engine", choices=ENGINES, help=engine_help)
    # --engine is accepted after the command too; SUPPRESS keeps a global one intact.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--engine", choices=ENGINES, default=argparse.SUPPRESS, help=engine_help)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name, func, help_text):
        c = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        c.set_defaults(func=func)
        return c

    def key_arg(c):
        c.add_argument("--key", required=True, help="session key (signed_cookies: cookie value)")

    cmd("migrate", cmd_migrate, "create the PG schema / MySQL database if named, then migrate")
    cmd("teardown", cmd_teardown, "drop SK_PG_SCHEMA / SK_MYSQL_DB and SK_CACHE_KEY_PREFIX keys")

    c = cmd("create", cmd_create, "new session holding DATA")
    c.add_argument("--data", type=json_object, default={}, help="JSON object (default {})")

    key_arg(cmd("read", cmd_read, "load a session"))

    c = cmd("update", cmd_update, "load, apply --set then --delete, save")
    key_arg(c)
    c.add_argument("--set", type=json_object, default={}, help="JSON object merged in")
    c.add_argument(
        "--delete", nargs="+", action="extend", default=[], metavar="NAME", help="keys to remove"
    )

    c = cmd("set-expiry", cmd_set_expiry, "session.set_expiry(...) and save")
    key_arg(c)
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--seconds", type=int, help="set_expiry(N): int, relative, slides on save")
    g.add_argument("--delta", type=int, help="set_expiry(timedelta(seconds=N)): absolute")
    g.add_argument("--iso", type=aware_datetime, help="set_expiry(datetime): absolute")
    g.add_argument("--browser-close", action="store_true", help="set_expiry(0)")
    g.add_argument("--none", action="store_true", help="set_expiry(None)")

    key_arg(cmd("cycle", cmd_cycle, "session.cycle_key()"))
    key_arg(cmd("flush", cmd_flush, "session.flush()"))

    c = cmd("login", cmd_login, "django.contrib.auth.login() into a session")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--key", help="existing session key")
    g.add_argument("--new", action="store_true", help="start from no session")
    c.add_argument("--user", required=True, help="username (created if missing)")
    c.add_argument("--password", help=f"password for a new user (default {DEFAULT_PASSWORD}); "
                   "checked if the user exists")

    c = cmd("login-view", cmd_login_view,
            "log in through LoginView with the test Client (GET the form, POST with its token)")
    c.add_argument("--user", required=True, help="username (created if missing)")
    c.add_argument("--password", help=f"the password to post (default {DEFAULT_PASSWORD})")
    c.add_argument("--bad-token", action="store_true",
                   help="post a wrong CSRF token instead of the form's")

    key_arg(cmd("logout", cmd_logout, "django.contrib.auth.logout()"))
    key_arg(cmd("whoami", cmd_whoami, "django.contrib.auth.get_user()"))

    c = cmd("set-password", cmd_set_password, "user.set_password(); user.save()")
    c.add_argument("--user", required=True)
    c.add_argument("--password", required=True)

    c.add_argument("--iterations", type=int, help="PBKDF2 with this many iterations")

    c = cmd("set-active", cmd_set_active, "user.is_active = ACTIVE; user.save()")
    c.add_argument("--user", required=True)
    c.add_argument("--active", choices=("0", "1"), required=True)

    c = cmd("last-login", cmd_last_login, "the user's last_login")
    c.add_argument("--user", required=True)

    c = cmd("password-hash", cmd_password_hash, "the user's pk and stored password hash")
    c.add_argument("--user", required=True)

    cmd("clear-expired", cmd_clear_expired, "manage.py clearsessions")
    key_arg(cmd("raw", cmd_raw, "the stored form, for debugging"))

    c = cmd("put-python", cmd_put_python, "new session of Python values (demo/values.py)")
    c.add_argument("--kind", choices=("values", "object"), required=True)
    c = cmd("check-python", cmd_check_python, "compare a session with put-python's values")
    key_arg(c)
    c.add_argument("--kind", choices=("values", "object"), required=True)
    c.add_argument("--after-rust", action="store_true", help="as the Rust side changes them")

    c = cmd("messages", cmd_messages, "one request through MessageMiddleware")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--key", help="existing session key")
    g.add_argument("--new", action="store_true", help="start from no session")
    c.add_argument("--storage", choices=sorted(MESSAGE_STORAGES), required=True)
    c.add_argument("--cookie", help="the request's `messages` cookie")
    c.add_argument("--add", type=json.loads, default=[],
                   help="JSON list of [level, text, extra_tags?, safe?] to add")
    c.add_argument("--read", action="store_true", help="render and consume the messages")

    c = cmd("csrf-form", cmd_csrf_form, "render {% csrf_token %} (CSRF_USE_SESSIONS)")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--key", help="existing session key")
    g.add_argument("--new", action="store_true", help="start from no session")

    c = cmd("csrf-post", cmd_csrf_post, "a POST through CsrfViewMiddleware")
    key_arg(c)
    c.add_argument("--token", help="the form field csrfmiddlewaretoken")
    c.add_argument("--header-token", help="the X-CSRFToken header")
    c.add_argument("--origin", help="the Origin header")
    c.add_argument("--referer", help="the Referer header")
    c.add_argument("--host", help="the Host header (default testserver)")
    c.add_argument("--secure", action="store_true", help="an HTTPS request")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    engine = args.engine or os.environ.get("SK_ENGINE") or "db"
    os.environ["SK_ENGINE"] = engine
    os.environ["DJANGO_SETTINGS_MODULE"] = "sk_site.settings"
    sys.path.insert(0, str(HERE))
    try:
        import django
        from django.conf import settings

        django.setup()
        if engine == "file" and settings.SESSION_FILE_PATH:
            os.makedirs(settings.SESSION_FILE_PATH, exist_ok=True)
        result = args.func(args)
    except Fail as e:
        print(f"driver: {args.command}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # anything else from Django/the services, with its type
        print(f"driver: {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        if os.environ.get("SK_DRIVER_TRACEBACK"):
            raise
        return 1
    json.dump(result, sys.stdout, default=repr)  # repr: Python values of cache sessions
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
