"""Settings for the sessionkit interop project, read entirely from the environment.

One project serves every session engine and database; see ../README.md for the variables.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name, default=False):
    return env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def identifier(name, value):
    """Schema / database names go into SQL (and PostgreSQL folds case): [a-z0-9_]+ only."""
    if not value or value.strip("abcdefghijklmnopqrstuvwxyz0123456789_"):
        raise ValueError(f"{name} must match [a-z0-9_]+, got {value!r}")
    return value


ENGINES = ("db", "cache", "cached_db", "file", "signed_cookies")
SK_ENGINE = env("SK_ENGINE", "db")
if SK_ENGINE not in ENGINES:
    raise ValueError(f"SK_ENGINE must be one of {', '.join(ENGINES)}, got {SK_ENGINE!r}")

SECRET_KEY = env("SK_SECRET_KEY", "sessionkit-interop-secret-key")
SECRET_KEY_FALLBACKS = [k for k in env("SK_SECRET_KEY_FALLBACKS", "").split(",") if k]
DEBUG = env_bool("SK_DEBUG", True)
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "demo",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "sk_site.urls"
# The login view's template (demo/templates/registration/login.html).
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = env_bool("SK_USE_TZ", True)
TIME_ZONE = env("SK_TIME_ZONE", "UTC")

# --- database (always configured: the auth tables live there for every engine) ---------

SK_DB = env("SK_DB", "sqlite")
SK_PG_SCHEMA = env("SK_PG_SCHEMA")
SK_MYSQL_DB = env("SK_MYSQL_DB")


def url_database(url, engine, default_port, name_override=None, options=None):
    u = urlsplit(url)
    return {
        "ENGINE": engine,
        "HOST": u.hostname or "127.0.0.1",
        "PORT": str(u.port or default_port),
        "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""),
        "NAME": name_override or u.path.lstrip("/") or "test",
        "OPTIONS": options or {},
    }


if SK_DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SK_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several driver processes may share one file: wait for locks, take them early.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
elif SK_DB == "postgres":
    options = {}
    if SK_PG_SCHEMA:
        options["options"] = f"-c search_path={identifier('SK_PG_SCHEMA', SK_PG_SCHEMA)}"
    DATABASES = {
        "default": url_database(
            env("SK_PG_URL", "postgres://postgres@127.0.0.1:5432/test"),
            "django.db.backends.postgresql",
            5432,
            options=options,
        )
    }
elif SK_DB == "mysql":
    import pymysql

    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": url_database(
            env("SK_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
            "django.db.backends.mysql",
            3306,
            name_override=SK_MYSQL_DB and identifier("SK_MYSQL_DB", SK_MYSQL_DB),
            options={"charset": "utf8mb4"},
        )
    }
else:
    raise ValueError(f"SK_DB must be sqlite, postgres or mysql, got {SK_DB!r}")

# --- cache (Django's built-in Redis backend; used by the cache and cached_db engines) ---

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("SK_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": env("SK_CACHE_KEY_PREFIX", ""),
        "VERSION": int(env("SK_CACHE_VERSION", "1")),
    }
}
# SK_MEMCACHED_LOCATION ("host:port,host:port"): Django's PyMemcacheCache on those servers
# instead of Redis.
if env("SK_MEMCACHED_LOCATION"):
    CACHES["default"]["BACKEND"] = "django.core.cache.backends.memcached.PyMemcacheCache"
    CACHES["default"]["LOCATION"] = env("SK_MEMCACHED_LOCATION").split(",")

# --- sessions ---------------------------------------------------------------------------

SESSION_ENGINE = f"django.contrib.sessions.backends.{SK_ENGINE}"
SESSION_FILE_PATH = env("SK_FILE_PATH")  # None -> the system temp dir (Django's default)
SESSION_COOKIE_AGE = int(env("SK_COOKIE_AGE", "1209600"))
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SK_EXPIRE_AT_BROWSER_CLOSE", False)
SESSION_SAVE_EVERY_REQUEST = False

# --- CSRF (issue 18.3): the secret in the session, as sessionkit's CSRF middleware expects

CSRF_USE_SESSIONS = env_bool("SK_CSRF_USE_SESSIONS", True)
CSRF_TRUSTED_ORIGINS = [o for o in env("SK_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Django's default hasher (PBKDF2, ~1M iterations) is slow; SK_FAST_HASHER=1 switches to
# MD5 for quick test runs. The session auth hash is an HMAC of whatever hash is stored.
if env_bool("SK_FAST_HASHER"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
