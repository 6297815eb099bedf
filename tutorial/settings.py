"""Muelle settings, read from the environment.

Defaults give a working developer set-up (SQLite, in-memory channel layer);
DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis. Every helper in
tutorial.env raises ImproperlyConfigured on a malformed value, naming the variable.

Sections, in order: core Django; database and channel layer; static files; sessions, cookies
and HTTPS; logging; lessons; sandboxes (image, limits, hardening, capacity and warm pool, expiry,
one-off runs); terminal; the edge (client addresses, per-client limits, request bodies); the
Docker gateway; the course registry; published ports and the preview. Every variable read here
is in the table of docs/configuration.md (tests/test_settings_documented.py keeps the two
together): a new setting goes into its section here and into that table.

Sizes are written like `256m` or `1g` and held as bytes (int); durations like `90`, `10m` or
`1.5h` and held as seconds: one grammar for each, in tutorial/env.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from tutorial.env import (
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_size,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# ============================================================================================
# Core Django
# ============================================================================================
# Development mode (tracebacks, unhashed static files). Never in production.
DEBUG = env_bool("DEBUG", False)

# Signs sessions and links. Required unless DEBUG or MUELLE_INSECURE_DEV_KEY (tests) is on.
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or env_bool("MUELLE_INSECURE_DEV_KEY", False):
        SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it, or set DEBUG=1 for local development."
        )

# Host names this site answers to (comma-separated); also the websockets' accepted Origin.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Extra origins trusted for form posts (comma-separated, with scheme), e.g. behind a proxy.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "tutorial",
    "template_partials",
    "lessons",
    "sandbox",
    "exercises",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above XFrameOptionsMiddleware: it reads the X-Frame-Options that one sets.
    "tutorial.content_security.content_security_middleware",
    "tutorial.route_cookie.route_cookie_middleware",
    # Before SessionMiddleware: it sees each new session once saved (tutorial.session_rate).
    "tutorial.session_rate.SessionRateMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tutorial.urls"
ASGI_APPLICATION = "tutorial.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Time zone for dates shown to people (an IANA name).
TIME_ZONE = env_str("TIME_ZONE", "Europe/Madrid")
USE_I18N = True
USE_TZ = True

# ============================================================================================
# Database and channel layer
# ============================================================================================
# Database: SQLite by default (SQLITE_PATH), anything dj-database-url understands otherwise.
_database_url = env_str("DATABASE_URL", "")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(env_str("SQLITE_PATH", str(BASE_DIR / "var" / "db.sqlite3")))),
            # WAL: readers no longer wait for a writer, and a commit is one append (a progress
            # write 5.6 -> 0.9 ms measured); 20 students' «Comprobar» at once queued behind each
            # other's journal otherwise. NORMAL is WAL's safe level (a power cut may lose the
            # last commits, never corrupt the file).
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in memory by default (one process), Redis when REDIS_URL is set.
_redis_url = env_str("REDIS_URL", "")
if _redis_url:
    if not _redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
    try:
        urlsplit(_redis_url).port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL has an invalid port: {exc}") from exc
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py gives up on a read after 5 s by default, and channels-redis waits up to 5 s
            # for a message: on a busy machine terminals dropped (django/channels_redis#422).
            # A timeout in REDIS_URL's query (?socket_timeout=N) still wins.
            "CONFIG": {"hosts": [{"address": _redis_url, "socket_timeout": 30}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# ============================================================================================
# Static files
# ============================================================================================
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end libraries come from the npm registry (package.json); served as they ship.
    ("vendor/xterm", BASE_DIR / "node_modules" / "@xterm" / "xterm"),
    ("vendor/xterm-addon-fit", BASE_DIR / "node_modules" / "@xterm" / "addon-fit"),
    # The workspace editor: CodeMirror 6 and what it imports, as ES modules named by the import
    # map in templates/sandbox/editor_importmap.html (no bundler).
    *(
        (f"vendor/{name}", BASE_DIR / "node_modules" / name)
        for name in (
            "codemirror",
            *(f"@codemirror/{p}" for p in ("autocomplete", "commands", "lang-css", "lang-html")),
            *(f"@codemirror/{p}" for p in ("lang-javascript", "lang-json", "lang-python")),
            *(f"@codemirror/{p}" for p in ("lang-yaml", "language", "legacy-modes", "lint")),
            *(f"@codemirror/{p}" for p in ("search", "state", "streamparser", "view")),
            *(f"@lezer/{p}" for p in ("common", "css", "highlight", "html", "javascript")),
            *(f"@lezer/{p}" for p in ("json", "lr", "python", "yaml")),
            "@marijn/find-cluster-break",
            "crelt",
            "style-mod",
            "w3c-keyname",
        )
    ),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# ============================================================================================
# Sessions, cookies and HTTPS
# ============================================================================================
# How long a browser session lasts (duration; whole seconds). Anonymous students get a session
# at once, and their progress hangs on it: keep it a while.
SESSION_COOKIE_AGE = env_duration("SESSION_COOKIE_AGE", "30d", minimum=60, whole=True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# The site is served over TLS: secure cookies, HSTS, redirect to HTTPS. On unless DEBUG.
_https = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
# Over TLS, Muelle's cookies take the __Host- prefix: a browser takes a cookie of that name only
# from Muelle's own host (Secure, Path=/, no Domain). Without it, a page on another host of the
# same domain (a student's preview, which deploy/ serves at *.vista.<Muelle's domain>) can set a
# session, CSRF or route cookie of the same name for the whole domain, and Django reads the last
# of two cookies with one name: the visitor would be using the page author's session. Without
# TLS browsers refuse the prefix; previews must then live off Muelle's domain (docs/ports.md).
_cookie_prefix = "__Host-" if _https else ""
SESSION_COOKIE_NAME = f"{_cookie_prefix}sessionid"
CSRF_COOKIE_NAME = f"{_cookie_prefix}csrftoken"
# The cookie that keeps a student on one web process behind the proxy (tutorial/route_cookie.py).
ROUTE_COOKIE_NAME = f"{_cookie_prefix}muelle_ruta"
# Redirect plain HTTP requests to HTTPS (off when the TLS proxy already does it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _https)
# Strict-Transport-Security max-age (duration; whole seconds; 0 sends no header).
SECURE_HSTS_SECONDS = env_duration(
    "SECURE_HSTS_SECONDS", "365d" if _https else 0, minimum=0, whole=True
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS proxy that sets X-Forwarded-Proto: believe it about HTTPS.
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# ============================================================================================
# Logging
# ============================================================================================
# Level of the console log (DEBUG, INFO, WARNING, ERROR).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# ============================================================================================
# Lessons
# ============================================================================================
# Folder holding one markdown file (or folder) per lesson.
LESSONS_DIR = Path(env_str("LESSONS_DIR", str(BASE_DIR / "content" / "lessons")))
# The course glossary (lessons/glossary.py): Spanish terms, Docker's names, definitions.
# Empty: `glosario.yaml` beside the lessons folder (content/glosario.yaml).
GLOSSARY_FILE = env_str("GLOSSARY_FILE", "")
# Lesson pages (lessons/page_cache.py): what is the same for every visitor is rendered once per
# lesson version, language and login state; only the student's own parts per request.
LESSON_PAGE_CACHE = env_bool("LESSON_PAGE_CACHE", True)
# A server that starts renders the index and the first lesson once, in a thread, so the first
# class after a restart does not pay the process's one-time costs (lessons/warm_up.py).
LESSON_PAGE_WARM_UP = env_bool("LESSON_PAGE_WARM_UP", True)
# A lesson page stats its own file on every request (an edit shows on the next reload); the
# whole lessons folder (other lessons, their titles in the course list) at most this often.
# 0: every request, the default with DEBUG.
LESSONS_RECHECK_SECONDS = env_float("LESSONS_RECHECK_SECONDS", 0.0 if DEBUG else 1.0, minimum=0)

# ============================================================================================
# Sandboxes: the container each student gets (sandbox/hardening.py, sandbox/engine.py)
# ============================================================================================
# The switch: off, lessons work and the terminal panel says sandboxes are off.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", True)
# Identifies this deployment's containers, so two Muelles on one engine never reap each other's.
SANDBOX_INSTANCE = env_str("SANDBOX_INSTANCE", "default")
# --- Image and user ---
# The course image every sandbox runs (built by scripts/test and scripts/serve).
SANDBOX_IMAGE = env_str("SANDBOX_IMAGE", "muelle/sandbox:latest")
# The user inside the sandbox, numeric uid:gid (the image's «alumno» is 1000:1000).
SANDBOX_USER = env_str("SANDBOX_USER", "1000:1000")
# The student's home and working folder (a tmpfs of SANDBOX_WORKDIR_SIZE).
SANDBOX_WORKDIR = env_str("SANDBOX_WORKDIR", "/home/alumno")
# --- Limits (sizes in bytes, written like 256m) ---
# Size of the home tmpfs (counts towards SANDBOX_MEMORY). Never 0: to the kernel, no limit.
SANDBOX_WORKDIR_SIZE = env_size("SANDBOX_WORKDIR_SIZE", "64m", minimum="1m")
# Size of the /tmp tmpfs (counts towards SANDBOX_MEMORY).
SANDBOX_TMP_SIZE = env_size("SANDBOX_TMP_SIZE", "16m", minimum="1m")
# Memory of the whole sandbox, tmpfs included; no swap on top. The engine's minimum is 6m.
SANDBOX_MEMORY = env_size("SANDBOX_MEMORY", "256m", minimum="6m")
# CPUs the sandbox may use (fraction of one core, e.g. 0.5).
SANDBOX_CPUS = env_float("SANDBOX_CPUS", 0.5, minimum=0.01)
# Most processes and threads at once inside the sandbox (a fork bomb stops there).
SANDBOX_PIDS_LIMIT = env_int("SANDBOX_PIDS_LIMIT", 128, minimum=8)
# Most open files per process inside the sandbox (and in the students' own containers).
SANDBOX_NOFILE = env_int("SANDBOX_NOFILE", 1024, minimum=64)
# Largest log file the engine keeps per container a student makes (one file each; sandboxes
# keep no log: their output is the first terminal's, sandbox/hardening.py).
SANDBOX_LOG_MAX_SIZE = env_size("SANDBOX_LOG_MAX_SIZE", "1m", minimum="1k")
# --- Hardening ---
# The sandbox's Docker network: "none" keeps it off every network.
SANDBOX_NETWORK = env_str("SANDBOX_NETWORK", "none")
# Read-only root filesystem (only the home and /tmp tmpfs are writable).
SANDBOX_READ_ONLY = env_bool("SANDBOX_READ_ONLY", True)
# --- Capacity and warm pool ---
# Most sandboxes alive at once on this server (warm pool included); over it students wait.
SANDBOX_MAX_LIVE = env_int("SANDBOX_MAX_LIVE", 60, minimum=1)
# Sandboxes per browser session.
SANDBOX_MAX_PER_SESSION = env_int("SANDBOX_MAX_PER_SESSION", 1, minimum=1)
# Terminals open at once per browser session (the workspace's terminal tabs and browser tabs).
SANDBOX_MAX_TERMINALS_PER_SESSION = env_int("SANDBOX_MAX_TERMINALS_PER_SESSION", 4, minimum=1)
# Sandboxes kept started and unowned, so a student's terminal opens at once.
SANDBOX_WARM_POOL = env_int("SANDBOX_WARM_POOL", 2, minimum=0)
# Threads for blocking Docker SDK calls (the event loop never waits on the engine).
SANDBOX_DOCKER_THREADS = env_int("SANDBOX_DOCKER_THREADS", 8, minimum=2)
# --- Expiry (durations, whole seconds, written like 90, 15m or 2h) ---
# A sandbox with no activity from its student (nothing typed) for this long is removed.
SANDBOX_IDLE_TIMEOUT = env_duration("SANDBOX_IDLE_TIMEOUT", "15m", minimum=10, whole=True)
# A sandbox never lives longer than this, in use or not.
SANDBOX_MAX_LIFETIME = env_duration("SANDBOX_MAX_LIFETIME", "2h", minimum=60, whole=True)
# The terminal warns the student this long before the sandbox expires.
SANDBOX_EXPIRY_WARNING = env_duration("SANDBOX_EXPIRY_WARNING", "2m", minimum=5, whole=True)
# After a dropped connection the terminal's shell waits this long for the student to come back.
SANDBOX_RECONNECT_GRACE = env_duration("SANDBOX_RECONNECT_GRACE", "1m", minimum=0, whole=True)
# How often expired and orphaned sandboxes are looked for and removed.
SANDBOX_REAP_INTERVAL = env_duration("SANDBOX_REAP_INTERVAL", "30s", minimum=5, whole=True)
# --- Placement across several engines (sandbox/placement/, docs/despliegue.md) ---
# "local": every sandbox on this server's engine (DOCKER_HOST). "swarm": Swarm's scheduler picks
# the node of each sandbox (a placeholder service reserving one `sandbox` generic resource) and
# Muelle creates the hardened sandbox on that node's engine.
SANDBOX_PLACEMENT = env_str("SANDBOX_PLACEMENT", "local")
if SANDBOX_PLACEMENT not in ("local", "swarm"):
    raise ImproperlyConfigured("SANDBOX_PLACEMENT must be 'local' or 'swarm'")
# The Swarm manager's engine (unix:// or tcp://), and how a node's engine is reached from its
# address in the Swarm (`docker node inspect` Status.Addr fills {addr}).
SANDBOX_SWARM_MANAGER = env_str("SANDBOX_SWARM_MANAGER", "")
SANDBOX_SWARM_ENGINE = env_str("SANDBOX_SWARM_ENGINE", "tcp://{addr}:2376")
if SANDBOX_PLACEMENT == "swarm" and not SANDBOX_SWARM_MANAGER:
    raise ImproperlyConfigured("SANDBOX_PLACEMENT=swarm needs SANDBOX_SWARM_MANAGER")
# Mutual TLS to every tcp:// engine of the Swarm (PEM files: the CA that signed the nodes'
# certificates, and Muelle's client certificate and key; sandbox/docker_api/node_tls.py). A node
# engine on plain tcp:// is root on that node for anyone who reaches its port, so without these
# a tcp:// engine is refused at start-up, unless SANDBOX_SWARM_INSECURE_TCP=1 says it on purpose.
SANDBOX_SWARM_TLS_CA = env_str("SANDBOX_SWARM_TLS_CA", "")
SANDBOX_SWARM_TLS_CERT = env_str("SANDBOX_SWARM_TLS_CERT", "")
SANDBOX_SWARM_TLS_KEY = env_str("SANDBOX_SWARM_TLS_KEY", "")
SANDBOX_SWARM_INSECURE_TCP = env_bool("SANDBOX_SWARM_INSECURE_TCP", False)
_swarm_tls = {
    "SANDBOX_SWARM_TLS_CA": SANDBOX_SWARM_TLS_CA,
    "SANDBOX_SWARM_TLS_CERT": SANDBOX_SWARM_TLS_CERT,
    "SANDBOX_SWARM_TLS_KEY": SANDBOX_SWARM_TLS_KEY,
}
if any(_swarm_tls.values()) and not all(_swarm_tls.values()):
    raise ImproperlyConfigured(f"set all three of {', '.join(_swarm_tls)}, or none")
for _name, _file in _swarm_tls.items():
    if _file and not Path(_file).is_file():
        raise ImproperlyConfigured(f"{_name}: no such file: {_file}")
# Only the two schemes the rules below understand: the Docker library also takes TCP://,
# http:// and an address with no scheme, all of them plain TCP, which the check for tcp://
# below would let through without TLS (found by an attack review).
for _name, _address in (
    ("SANDBOX_SWARM_MANAGER", SANDBOX_SWARM_MANAGER),
    ("SANDBOX_SWARM_ENGINE", SANDBOX_SWARM_ENGINE),
):
    if SANDBOX_PLACEMENT == "swarm" and not _address.startswith(("unix://", "tcp://")):
        raise ImproperlyConfigured(
            f"{_name} must start with unix:// or tcp:// (in lower case), not {_address!r}"
        )
if (
    SANDBOX_PLACEMENT == "swarm"
    and "tcp://" in SANDBOX_SWARM_ENGINE + SANDBOX_SWARM_MANAGER
    and not all(_swarm_tls.values())
    and not SANDBOX_SWARM_INSECURE_TCP
):
    raise ImproperlyConfigured(
        "SANDBOX_PLACEMENT=swarm reaches engines over tcp:// without TLS: set "
        "SANDBOX_SWARM_TLS_CA, SANDBOX_SWARM_TLS_CERT and SANDBOX_SWARM_TLS_KEY (or, only on a "
        "private test network, SANDBOX_SWARM_INSECURE_TCP=1)"
    )
# --- One-off runs (exercise checks that run a command in the sandbox) ---
# Longest a check's command may run (duration, seconds).
SANDBOX_RUN_TIMEOUT = env_duration("SANDBOX_RUN_TIMEOUT", "10s", minimum=0.1)
# Most output kept from a check's command (size).
SANDBOX_RUN_OUTPUT_CAP = env_size("SANDBOX_RUN_OUTPUT_CAP", "64k", minimum="1k")

# ============================================================================================
# Terminal: the websocket between the browser and the sandbox (sandbox/consumers.py)
# ============================================================================================
# Largest websocket message a browser may send (size).
TERMINAL_MAX_FRAME = env_size("TERMINAL_MAX_FRAME", "64k", minimum="1k")
# Messages per second a browser may send to one terminal.
TERMINAL_INPUT_RATE = env_int("TERMINAL_INPUT_RATE", 200, minimum=10)
# Bytes per second typed or pasted into one terminal (size per second), with bursts up to
# TERMINAL_INPUT_BURST (a big paste): frames alone would let 200 x 64 KiB = 12.8 MB/s through.
TERMINAL_INPUT_BYTES_RATE = env_size("TERMINAL_INPUT_BYTES_RATE", "64k", minimum="1k")
TERMINAL_INPUT_BURST = env_size("TERMINAL_INPUT_BURST", "1m", minimum="1k")
# Bytes per second of output sent to one terminal (size per second); beyond it output is paced.
TERMINAL_OUTPUT_RATE = env_size("TERMINAL_OUTPUT_RATE", "256k", minimum="4k")
# Recent output replayed to a terminal that reconnects (size; 0: none).
TERMINAL_REPLAY_BYTES = env_size("TERMINAL_REPLAY_BYTES", "64k", minimum=0)
# Each terminal's shell held inside the sandbox by dtach (sandbox/terminal_holder.py), so a
# reconnect to another web process, or after this one died, finds the same shell (yes/no).
TERMINAL_HELD_SHELLS = env_bool("TERMINAL_HELD_SHELLS", False)
# How often an open terminal checks that its browser session still exists (flushed by a logout
# in another process, cycled by a login, expired): one indexed read per terminal (duration).
TERMINAL_SESSION_CHECK = env_duration("TERMINAL_SESSION_CHECK", "30s", minimum=0.1)

# ============================================================================================
# The edge: client addresses, per-client limits, request bodies (docs/reliability.md)
# ============================================================================================
# Reverse proxies whose CLIENT_ADDRESS_HEADER is believed (addresses or networks). Empty: the
# socket's peer is the client, and any X-Forwarded-For is ignored (anyone can send one).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
# The header those proxies put the client's address in.
CLIENT_ADDRESS_HEADER = env_str("CLIENT_ADDRESS_HEADER", "X-Forwarded-For")
from tutorial.client_address import parse_networks as _parse_networks  # noqa: E402

_parse_networks("TRUSTED_PROXIES", TRUSTED_PROXIES)  # ImproperlyConfigured on a bad entry
# Per client address, sized for a school whose whole classroom (40) shares one NAT address, and
# so that one address can never take the whole server: three quarters of SANDBOX_MAX_LIVE (45 of
# the default 60: a class of 40, its teacher and a few tabs in their reconnect grace; 15 places
# always left for everyone else). Over it, that address's students wait in their own line.
CLIENT_MAX_SANDBOXES = env_int(
    "CLIENT_MAX_SANDBOXES", max(1, (SANDBOX_MAX_LIVE * 3 + 3) // 4), minimum=1
)
# Terminals open at once per client address.
CLIENT_MAX_TERMINALS = env_int(
    "CLIENT_MAX_TERMINALS", CLIENT_MAX_SANDBOXES * SANDBOX_MAX_TERMINALS_PER_SESSION, minimum=1
)
# New browser sessions per address: a burst for a whole class arriving at once (two classes of
# 40 in the same minute), then a steady rate; over it a 429 with a Spanish page.
CLIENT_SESSION_BURST = env_int("CLIENT_SESSION_BURST", 100, minimum=1)
CLIENT_SESSIONS_PER_MINUTE = env_float("CLIENT_SESSIONS_PER_MINUTE", 30.0, minimum=0.1)
# Failed logins per address (exercises.login_limits): a burst for a class mistyping, then a
# steady rate; over it, logins from that address are refused (429) before any password is hashed.
CLIENT_LOGIN_FAILURES_BURST = env_int("CLIENT_LOGIN_FAILURES_BURST", 20, minimum=1)
CLIENT_LOGIN_FAILURES_PER_MINUTE = env_float("CLIENT_LOGIN_FAILURES_PER_MINUTE", 6.0, minimum=0.1)
AUTHENTICATION_BACKENDS = ["exercises.login_limits.LimitedModelBackend"]
# Request bodies (tutorial.body_limits): no page takes more than a form (size), and a body must
# arrive within HTTP_BODY_TIMEOUT (duration, seconds).
HTTP_MAX_BODY = env_size("HTTP_MAX_BODY", "1m", minimum="1k")
HTTP_BODY_TIMEOUT = env_duration("HTTP_BODY_TIMEOUT", "20s", minimum=0.1)

# ============================================================================================
# Docker gateway: the per-student Docker endpoint (sandbox/gateway, docs/gateway.md)
# ============================================================================================
# The switch: on, every sandbox gets its own gateway folder mounted read-only at
# DOCKER_GATEWAY_MOUNT_TARGET and DOCKER_HOST pointing at it, so `docker` works in the terminal;
# off, sandboxes mount nothing of the host and `docker` there finds no engine.
DOCKER_GATEWAY_ENABLED = env_bool("DOCKER_GATEWAY_ENABLED", True)
# The real engine; never mounted into any sandbox.
DOCKER_GATEWAY_ENGINE_SOCKET = env_str("DOCKER_GATEWAY_ENGINE_SOCKET", "/var/run/docker.sock")
# One sub-folder per student holds that student's socket; the folder is what gets mounted. The
# engine bind-mounts it, so it must be a path on the engine's host (Muelle beside the engine).
DOCKER_GATEWAY_SOCKET_DIR = Path(
    env_str("DOCKER_GATEWAY_SOCKET_DIR", str(BASE_DIR / "var" / "gateway"))
)
# Where that folder appears inside the sandbox (DOCKER_HOST=unix://<here>/docker.sock).
DOCKER_GATEWAY_MOUNT_TARGET = env_str("DOCKER_GATEWAY_MOUNT_TARGET", "/run/muelle")
# Owner of the socket file: the sandbox user as the host sees it (add the offset under
# userns-remap, e.g. 101000).
_sandbox_uid, _, _sandbox_gid = SANDBOX_USER.partition(":")
try:
    DOCKER_GATEWAY_SOCKET_UID = env_int("DOCKER_GATEWAY_SOCKET_UID", int(_sandbox_uid), minimum=0)
    DOCKER_GATEWAY_SOCKET_GID = env_int(
        "DOCKER_GATEWAY_SOCKET_GID", int(_sandbox_gid or _sandbox_uid), minimum=0
    )
except ValueError:
    raise ImproperlyConfigured(
        "SANDBOX_USER must be numeric (uid:gid), or set DOCKER_GATEWAY_SOCKET_UID/GID"
    ) from None
# Limits every student container gets (the default, and the most a student may ask for):
# memory (size), CPUs (fraction of one core), processes.
DOCKER_GATEWAY_CONTAINER_MEMORY = env_size("DOCKER_GATEWAY_CONTAINER_MEMORY", "128m", minimum="6m")
DOCKER_GATEWAY_CONTAINER_CPUS = env_float("DOCKER_GATEWAY_CONTAINER_CPUS", 0.5, minimum=0.01)
DOCKER_GATEWAY_CONTAINER_PIDS = env_int("DOCKER_GATEWAY_CONTAINER_PIDS", 64, minimum=8)
# Capabilities a student container keeps after `cap_drop: ALL` (and the only ones --cap-add takes).
DOCKER_GATEWAY_CAP_ALLOWLIST = env_list(
    "DOCKER_GATEWAY_CAP_ALLOWLIST",
    ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "NET_BIND_SERVICE"],
)
# Per-student quotas: containers, images, volumes and networks a student may have at once, and
# the memory of all their containers together (size).
DOCKER_GATEWAY_MAX_CONTAINERS = env_int("DOCKER_GATEWAY_MAX_CONTAINERS", 8, minimum=1)
DOCKER_GATEWAY_MAX_IMAGES = env_int("DOCKER_GATEWAY_MAX_IMAGES", 8, minimum=1)
DOCKER_GATEWAY_MAX_VOLUMES = env_int("DOCKER_GATEWAY_MAX_VOLUMES", 8, minimum=0)
DOCKER_GATEWAY_MAX_NETWORKS = env_int("DOCKER_GATEWAY_MAX_NETWORKS", 4, minimum=0)
DOCKER_GATEWAY_MAX_TOTAL_MEMORY = env_size("DOCKER_GATEWAY_MAX_TOTAL_MEMORY", "512m", minimum="6m")
# Disk a student's containers, volumes and images may take on the engine, measured by the reaper
# (sandbox/gateway/disk_use.py); "0" turns the measure off.
DOCKER_GATEWAY_MAX_DISK = env_size("DOCKER_GATEWAY_MAX_DISK", "2g", minimum=0)
# Files and directories in the same, counted with it where the engine's data is on this server.
DOCKER_GATEWAY_MAX_FILES = env_int("DOCKER_GATEWAY_MAX_FILES", 100_000, minimum=1)
# Free space kept on the disk of the engine's data (where this server sees it), with
# DOCKER_GATEWAY_MAX_DISK on: below it, every student's running containers stop and writes are
# refused (sandbox/gateway/disk_use.py).
DOCKER_GATEWAY_MIN_FREE_DISK = env_size("DOCKER_GATEWAY_MIN_FREE_DISK", "2g", minimum=0)
# Docker Hub repositories a student may pull (no other registry, ever).
DOCKER_GATEWAY_PULL_ALLOWLIST = env_list(
    "DOCKER_GATEWAY_PULL_ALLOWLIST", ["hello-world", "alpine", "busybox", "debian", "nginx"]
)
# Builds: classic builder only, no network, these limits for every build step: memory (size),
# CPUs, processes, and the largest build context a student may send (size).
DOCKER_GATEWAY_BUILD_MEMORY = env_size("DOCKER_GATEWAY_BUILD_MEMORY", "256m", minimum="6m")
DOCKER_GATEWAY_BUILD_CPUS = env_float("DOCKER_GATEWAY_BUILD_CPUS", 1.0, minimum=0.01)
DOCKER_GATEWAY_BUILD_PIDS = env_int("DOCKER_GATEWAY_BUILD_PIDS", 128, minimum=8)
DOCKER_GATEWAY_BUILD_CONTEXT_MAX = env_size("DOCKER_GATEWAY_BUILD_CONTEXT_MAX", "32m", minimum="1k")
# `docker import`: the archive as sent and, once uncompressed, its files together (a student's
# tar is spooled to disk and written again by the gateway, copy_archive.py).
DOCKER_GATEWAY_IMPORT_MAX = env_size("DOCKER_GATEWAY_IMPORT_MAX", "1g", minimum="1k")
# Bytes per second the gateway copies for one student, both ways, all their streams together
# (docker exec and attach, cp, export, save, logs, build output and contexts, import):
# the web process copies each byte, and its time is every student's.
DOCKER_GATEWAY_BYTES_PER_SECOND = env_size("DOCKER_GATEWAY_BYTES_PER_SECOND", "32m", minimum="64k")
# The engine host's cgroup v2 mount, and the cgroup under it that holds every build step.
DOCKER_GATEWAY_BUILD_CGROUP_ROOT = env_str("DOCKER_GATEWAY_BUILD_CGROUP_ROOT", "/sys/fs/cgroup")
DOCKER_GATEWAY_BUILD_CGROUP_PARENT = env_str("DOCKER_GATEWAY_BUILD_CGROUP_PARENT", "muelle-build")

# ============================================================================================
# The course registry (sandbox/course_registry.py, sandbox/gateway/handlers_registry.py,
# docs/registry.md)
# ============================================================================================
# The registry's name as students type it (`docker push registro.muelle/app:1`): a host name with
# a dot and no port, so it is also a valid repository path under a student's prefix.
REGISTRY_NAME = env_str("REGISTRY_NAME", "registro.muelle")
if not re.fullmatch(r"[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z0-9]+", REGISTRY_NAME):
    raise ImproperlyConfigured("REGISTRY_NAME must be a lowercase host name with a dot, no port")
# Loopback port of the registry `scripts/serve` starts (ignored with REGISTRY_URL).
REGISTRY_PORT = env_int("REGISTRY_PORT", 5000, minimum=1)
# An existing registry instead ("http://127.0.0.1:5000", "https://registry.example.org"), as
# the engine reaches it; empty with REGISTRY_PORT: the local one. Credentials: REGISTRY_USERNAME
# and REGISTRY_PASSWORD, or the file REGISTRY_PASSWORD_FILE (the local one keeps its random
# password in var/registry/password). No student ever sees them.
REGISTRY_URL = env_str("REGISTRY_URL", f"http://127.0.0.1:{REGISTRY_PORT}")
REGISTRY_USERNAME = env_str("REGISTRY_USERNAME", "muelle")
REGISTRY_PASSWORD = env_str("REGISTRY_PASSWORD", "")
REGISTRY_PASSWORD_FILE = env_str(
    "REGISTRY_PASSWORD_FILE", str(BASE_DIR / "var" / "registry" / "password")
)
# Per student: tags stored, and bytes (as the registry stores them, compressed layers).
REGISTRY_MAX_IMAGES = env_int("REGISTRY_MAX_IMAGES", 10, minimum=0)
REGISTRY_MAX_SIZE = env_size("REGISTRY_MAX_SIZE", "512m", minimum=0)
# Where `scripts/serve` runs the local registry (sandbox/course_registry.py). Blobs no tag refers
# to any more (a tag pushed again over, a student's images deleted) are freed only by a garbage
# collection with the registry stopped: Muelle restarts the registry it runs there to collect,
# at most every REGISTRY_COLLECT_EVERY, when something was left behind and nobody is pushing or
# pulling (sandbox/gateway/registry_space.py). Empty: no collection (a registry of your own).
REGISTRY_FOLDER = env_str("REGISTRY_FOLDER", str(BASE_DIR / "var" / "registry"))
REGISTRY_COLLECT_EVERY = env_duration("REGISTRY_COLLECT_EVERY", "10m", minimum=1)
# Its log (registry.log there) past this size moves to registry.log.1 at the reaper's next pass:
# every failed request is a line, and the disk is every student's.
REGISTRY_LOG_MAX = env_size("REGISTRY_LOG_MAX", "16m", minimum="64k")

# ============================================================================================
# Published ports and the preview origin (sandbox/ports, sandbox/preview, docs/ports.md)
# ============================================================================================
# What a student's container serves is shown under its own host, never Muelle's origin:
# `<port>-<id>.<PREVIEW_HOST>`. Locally `vista.localhost` (browsers send every *.localhost name to
# loopback); in production a wildcard name behind the TLS proxy, ideally on a domain of its own
# (e.g. vista-muelle.org), so no page there can set cookies for Muelle's domain. Empty: no preview.
PREVIEW_HOST = env_str("PREVIEW_HOST", "vista.localhost").strip().lower().strip(".")
if PREVIEW_HOST and not re.fullmatch(
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", PREVIEW_HOST
):
    raise ImproperlyConfigured(
        f"PREVIEW_HOST must be a host name like vista.example.org, got {PREVIEW_HOST!r}"
    )
if PREVIEW_HOST and any(
    h.startswith(".") and (PREVIEW_HOST == h[1:] or PREVIEW_HOST.endswith(h)) for h in ALLOWED_HOSTS
):
    # Django would then answer Muelle's own pages on a preview host: one origin for both.
    raise ImproperlyConfigured("PREVIEW_HOST must not be covered by a .domain in ALLOWED_HOSTS")
# The scheme and port the browser uses for previews. PREVIEW_PORT 0: the scheme's own port with
# PREVIEW_HTTPS, the page's own port without (behind a TLS proxy: 1 and 0).
PREVIEW_HTTPS = env_bool("PREVIEW_HTTPS", _https)
PREVIEW_PORT = env_int("PREVIEW_PORT", 0, minimum=0)
# How long the owner's preview cookie lasts, and a share link (made on purpose by the student)
# (durations, whole seconds).
PREVIEW_COOKIE_SECONDS = env_duration("PREVIEW_COOKIE_SECONDS", "8h", minimum=60, whole=True)
PREVIEW_SHARE_SECONDS = env_duration("PREVIEW_SHARE_SECONDS", "1h", minimum=60, whole=True)
# Limits per student: bytes per second both ways (size per second), request size (size), idle
# time (duration), websocket messages (size).
PREVIEW_BYTES_PER_SECOND = env_size("PREVIEW_BYTES_PER_SECOND", "4m", minimum="1k")
PREVIEW_MAX_REQUEST_BYTES = env_size("PREVIEW_MAX_REQUEST_BYTES", "16m", minimum="1k")
PREVIEW_IDLE_SECONDS = env_duration("PREVIEW_IDLE_SECONDS", "60s", minimum=1.0)
PREVIEW_WS_MAX_MESSAGE = env_size("PREVIEW_WS_MAX_MESSAGE", "1m", minimum="1k")
