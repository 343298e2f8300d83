"""One clock for every call time, the database's: this process's time plus its measured offset.

Deadlines, heartbeats and bill times written by several processes are compared with one another;
if each used its own clock, one running ahead would see the others' heartbeats as stale and end
bills before they were answered. Reading the database's clock on every write would slow the call
setup, so each process measures its offset once (on its first database connection) and again on
every sweep, and `now()` costs no query."""

import logging
from datetime import UTC, datetime, timedelta

from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from django.utils import timezone

log = logging.getLogger(__name__)

_offset: timedelta | None = None  # database clock − this process's clock; None until measured

# How finely each database gives its clock (SQLite to the millisecond, PostgreSQL to the
# microsecond): a smaller difference cannot be told from none.
_RESOLUTION = {"sqlite": timedelta(milliseconds=1), "postgresql": timedelta(microseconds=1)}


def _local() -> datetime:
    # Django's own clock, so that whatever moves it (a skewed host, a test) moves this too.
    return timezone.now()


def now() -> datetime:
    """The database's time now, as far as this process can tell without asking it."""
    return _local() + (_offset or timedelta(0))


def offset() -> timedelta | None:
    """The last measured offset (database − local), None before the first measurement."""
    return _offset


def measure(connection=None) -> timedelta:
    """Read the database's clock once and keep this process's offset to it."""
    global _offset
    connection = connection or default_connection
    query = (
        "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
        if connection.vendor == "sqlite"
        else "SELECT clock_timestamp()"  # not now(): that is the transaction's start
    )
    with connection.cursor() as cursor:
        before = _local()
        cursor.execute(query)
        (value,) = cursor.fetchone()
        after = _local()
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    measured = value - (before + (after - before) / 2)
    # The database read its clock somewhere within the round trip: within that, no skew is known.
    doubt = (after - before) / 2 + _RESOLUTION.get(connection.vendor, timedelta(microseconds=1))
    _offset = measured if abs(measured) > doubt else timedelta(0)
    return _offset


def _on_connection(sender, connection, **kwargs) -> None:
    """Measure on this process's first database connection, before any call time is written."""
    if _offset is not None or connection.alias != "default":
        return
    try:
        measure(connection)
    except Exception:  # the sweep measures again; until then the local clock is used
        log.warning("could not read the database's clock", exc_info=True)


connection_created.connect(_on_connection, dispatch_uid="calls.clock")
