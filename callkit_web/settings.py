"""Settings, all from the environment (product.md, "Settings")."""

import json
import os
import re
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float, low: float, high: float) -> float:
    """Read a number within [low, high] from the environment, or fail loudly."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, not {value}")
    return value


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "calls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Language from the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "calls.middleware.ContentSecurityPolicyMiddleware",
    "calls.middleware.BrowserTimeZoneMiddleware",
]

ROOT_URLCONF = "callkit_web.urls"
ASGI_APPLICATION = "callkit_web.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "calls.context_processors.missed_calls",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process (Django's advice under ASGI instead of persistent connections):
    # opening a PostgreSQL connection per query cost as much as the call's writes.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 10}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes every atomic block take the write lock at BEGIN, so two racing
    # transitions queue up instead of failing with "database is locked" mid-transaction.
    # WAL lets readers go on while one transaction writes, and synchronous=NORMAL drops an
    # fsync per commit (still durable across a process crash): a call's writes are on its setup path.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Keep SQLite connections open: the sockets' queries all run on one thread, and closing the
    # last connection to a WAL database checkpoints it, so reopening per query cost more than
    # the query (Django's advice against persistent connections under ASGI is about database
    # servers' connection limits; a SQLite connection is a file handle, dropped with its thread).
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # One test database file per test run: two runs at once (two terminals) must not share it.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: an idle consumer's blocking pop must not time out.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                # Capacity bounds a whole process's inbox (every socket of the process shares one
                # Redis key), not one socket's: at 1,000 a burst of calls on 1,000 sockets overflowed
                # it, and a full inbox drops call events and crashes relays. Expiry still bounds it.
                "capacity": 20_000,
                "expiry": 30,
            },
        }
    }
else:
    # Channels' own in-memory layer, less its per-message sweep of every socket (calls/layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "calls.layers.InMemoryChannelLayer"}}

AUTH_USER_MODEL = "calls.User"
AUTHENTICATION_BACKENDS = ["calls.login_throttle.ThrottledModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice outlives the session (a logged-out visitor keeps it too).
LANGUAGE_COOKIE_AGE = 365 * 86_400
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")  # collectstatic fills it
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders, so `daphne` alone works without collectstatic.
WHITENOISE_USE_FINDERS = True
# Until collectstatic has filled STATIC_ROOT, the finders serve everything: no need to warn.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
WHITENOISE_AUTOREFRESH = DEBUG


def _static_html_headers(headers, path: str, url: str) -> None:
    """A static HTML page gets the pages' own CSP and framing headers (WhiteNoise answers before
    the middleware that adds them to Django's responses)."""
    if path.endswith((".html", ".htm")):
        from calls.middleware import CSP

        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"


WHITENOISE_ADD_HEADERS_FUNCTION = _static_html_headers

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# In production (DEBUG off) cookies go over HTTPS only and browsers are told to stay on HTTPS.
# DJANGO_SECURE_COOKIES=0 serves a non-debug site over plain HTTP (tests, a LAN demo).
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
SECURE_HSTS_SECONDS = int(env_float("DJANGO_HSTS_SECONDS", 31_536_000 if SECURE_COOKIES else 0, 0, 63_072_000))
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# One cache for every process when Redis is there. Nothing security-relevant lives in it: that
# is in calls/security_state.py, which no cache eviction can lose.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
         "KEY_PREFIX": "callkit"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Every login (the login page, the admin, anything calling authenticate()) goes through one
# throttle (calls/login_throttle.py). Failed logins allowed per username from one address in
# LOGIN_THROTTLE_WINDOW seconds; per address across usernames in the same window; per username
# across addresses (slower, so a guesser with many addresses still meets a limit).
LOGIN_THROTTLE_LIMIT = int(env_float("CALLKIT_LOGIN_ATTEMPTS", 5, 1, 1000))
LOGIN_THROTTLE_WINDOW = int(env_float("CALLKIT_LOGIN_WINDOW", 900, 10, 86_400))
LOGIN_THROTTLE_ADDRESS_LIMIT = int(env_float("CALLKIT_LOGIN_ADDRESS_ATTEMPTS", 20, 1, 100_000))
LOGIN_THROTTLE_USER_LIMIT = int(env_float("CALLKIT_LOGIN_USER_ATTEMPTS", 50, 1, 100_000))
LOGIN_THROTTLE_USER_WINDOW = int(env_float("CALLKIT_LOGIN_USER_WINDOW", 3600, 10, 86_400))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"calls": {"handlers": ["console"], "level": os.environ.get("CALLKIT_LOG_LEVEL", "INFO")}},
}

# --- CallKit -------------------------------------------------------------------------------

# How long a call rings before the server ends it as "timeout" (a caller may ask 5-120 s).
CALLKIT_RING_TIMEOUT = env_float("CALLKIT_RING_TIMEOUT", 30, 1, 120)
# How long a party of a live call may be without a connection before the call ends.
CALLKIT_GRACE = env_float("CALLKIT_GRACE", 15, 0.5, 300)
# How long a ringing call waits for its caller's tab to come back before it is canceled.
CALLKIT_RING_GRACE = env_float("CALLKIT_RING_GRACE", 5, 0.5, 60)
# How often each server process looks for calls whose deadline passed (a process died).
CALLKIT_SWEEP_INTERVAL = env_float("CALLKIT_SWEEP_INTERVAL", 5, 0.1, 300)
# Invites one user may place in a minute (ringing someone is what a pest would abuse).
CALLKIT_INVITES_PER_MINUTE = int(env_float("CALLKIT_INVITES_PER_MINUTE", 10, 1, 10_000))
# After a callee declines, how long before the same caller may ring them again (seconds; 0: off).
CALLKIT_DECLINE_COOLDOWN = env_float("CALLKIT_DECLINE_COOLDOWN", 30, 0, 3600)
# Different callers who may invite one user in a minute (a pest with many accounts).
CALLKIT_INCOMING_PER_MINUTE = int(env_float("CALLKIT_INCOMING_PER_MINUTE", 20, 1, 10_000))
# Open sockets per user (across processes) and per client address (docs/security.md, Sockets).
CALLKIT_MAX_SOCKETS_PER_USER = int(env_float("CALLKIT_MAX_SOCKETS_PER_USER", 20, 1, 10_000))
CALLKIT_MAX_SOCKETS_PER_ADDRESS = int(env_float("CALLKIT_MAX_SOCKETS_PER_ADDRESS", 100, 1, 100_000))
# ICE servers handed to browsers (RTCIceServer objects as JSON); empty works on a LAN.
try:
    CALLKIT_ICE_SERVERS = json.loads(os.environ.get("CALLKIT_ICE_SERVERS", "[]"))
except ValueError as exc:
    raise ImproperlyConfigured("CALLKIT_ICE_SERVERS must be a JSON list of RTCIceServer objects") from exc
if not isinstance(CALLKIT_ICE_SERVERS, list):
    raise ImproperlyConfigured("CALLKIT_ICE_SERVERS must be a JSON list of RTCIceServer objects")
# "relay" forces media through TURN (for networks that must not reveal addresses).
CALLKIT_ICE_TRANSPORT_POLICY = os.environ.get("CALLKIT_ICE_TRANSPORT_POLICY", "all")
if CALLKIT_ICE_TRANSPORT_POLICY not in {"all", "relay"}:
    raise ImproperlyConfigured("CALLKIT_ICE_TRANSPORT_POLICY must be 'all' or 'relay'")
# How long browsers try to connect media after the answer before the call ends as "failed".
CALLKIT_CONNECT_TIMEOUT = env_float("CALLKIT_CONNECT_TIMEOUT", 20, 2, 120)
# Connect while it rings: each ringing device of the callee prepares its media connection with the
# caller (no audio or video flows before Accept). Off: nothing reaches the caller before an answer,
# not even the callee's network addresses (docs/security.md, Pre-connect).
CALLKIT_PRECONNECT = env_bool("CALLKIT_PRECONNECT", True)
# TURN (coturn with use-auth-secret): every client gets its own credential, valid CALLKIT_TURN_TTL s.
CALLKIT_TURN_URLS = [u.strip() for u in os.environ.get("CALLKIT_TURN_URLS", "").split(",") if u.strip()]
if any(not u.startswith(("turn:", "turns:")) for u in CALLKIT_TURN_URLS):
    raise ImproperlyConfigured("CALLKIT_TURN_URLS must be comma-separated turn: or turns: URLs")
CALLKIT_TURN_SECRET = os.environ.get("CALLKIT_TURN_SECRET", "")
if CALLKIT_TURN_URLS and not CALLKIT_TURN_SECRET:
    raise ImproperlyConfigured("CALLKIT_TURN_URLS needs CALLKIT_TURN_SECRET (coturn's static-auth-secret)")
CALLKIT_TURN_TTL = int(env_float("CALLKIT_TURN_TTL", 3600, 10, 604_800))

# --- Embedding (docs/embedding.md) -----------------------------------------------------------

# Sites allowed to put /embed/ in an iframe (CSP frame-ancestors) and to talk to it by postMessage.
CALLKIT_EMBED_ORIGINS = [o.strip().rstrip("/") for o in os.environ.get("CALLKIT_EMBED_ORIGINS", "").split(",")
                         if o.strip()]
# An origin is scheme://host[:port] and nothing else: the list goes into a CSP header verbatim.
if any(not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", o) for o in CALLKIT_EMBED_ORIGINS):
    raise ImproperlyConfigured("CALLKIT_EMBED_ORIGINS must be comma-separated origins like https://example.com")
# Keys the host site's backend presents to POST /api/embed-tokens/ (comma-separated; empty: API off).
CALLKIT_API_KEYS = [k.strip() for k in os.environ.get("CALLKIT_API_KEYS", "").split(",") if k.strip()]
if any(len(k) < 24 for k in CALLKIT_API_KEYS):
    raise ImproperlyConfigured("each of CALLKIT_API_KEYS must be at least 24 characters")
# How long an embed token works, by default and at most; an open embed renews its own while connected.
CALLKIT_EMBED_TOKEN_TTL = int(env_float("CALLKIT_EMBED_TOKEN_TTL", 300, 10, 86_400))
CALLKIT_EMBED_TOKEN_MAX_TTL = int(env_float("CALLKIT_EMBED_TOKEN_MAX_TTL", 3600, 10, 86_400))
if CALLKIT_EMBED_TOKEN_TTL > CALLKIT_EMBED_TOKEN_MAX_TTL:
    raise ImproperlyConfigured("CALLKIT_EMBED_TOKEN_TTL must not exceed CALLKIT_EMBED_TOKEN_MAX_TTL")
# How long one embed page may keep renewing its token: after that the host mints a new one.
CALLKIT_EMBED_SESSION_MAX = int(env_float("CALLKIT_EMBED_SESSION_MAX", 43_200, 60, 604_800))
