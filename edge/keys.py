"""Every Redis key the edge reads or writes, named in one place.

The Lua scripts receive every key they touch from here, in KEYS. A user's own keys (rate-limit
windows, cached responses, their student generation) carry the user's id as a hash tag, so on
a Redis Cluster they share one slot. A class's generation is shared by every member of the
class and lives in the class's own slot: a lookup that depends on it spans two slots, which a
single Redis or a replicated pair serves, and a cluster does not.
"""

from __future__ import annotations

from collections.abc import Iterable


def rate_window(bucket: str, identity: str) -> str:
    """The sorted set of this identity's allowed requests in this bucket's window."""
    return f"rl:{{{identity}}}:{bucket}"


def rate_violation(bucket: str, identity: str) -> str:
    """Set by the first refused request of a throttled period, so that it is audited once."""
    return f"rl:{{{identity}}}:{bucket}:violated"


def rate_keys(identity: str, buckets: Iterable[str]) -> list[str]:
    """Every rate-limit key of one identity (an admin's reset deletes them)."""
    return [
        key for bucket in buckets for key in (rate_window(bucket, identity), rate_violation(bucket, identity))
    ]


def student_generation(student_id: str) -> str:
    """Bumped when anything about this student changes: every response built from it goes stale."""
    return f"gen:s:{{{student_id}}}"


def class_generation(class_id: str) -> str:
    """Bumped when the figures of this class change (averages, ranks, statistics)."""
    return f"gen:c:{{{class_id}}}"


def stamped_generations(stamp: str) -> dict[str, str]:
    """The generation keys and values in a cached entry's stamp ("<key>=<value>;" each, as the
    Lua scripts write it)."""
    return dict(part.split("=", 1) for part in stamp.split(";") if part)


def cached_response(owner: str, name: str) -> str:
    """One cached response of one caller; `name` says which (dashboard, weekly:2026-W07, ...)."""
    return f"cache:{{{owner}}}:{name}"


def refresh_lock(entry_key: str) -> str:
    """Held while one process recomputes a stale entry, so that only one does."""
    return f"{entry_key}:refreshing"


def sse_connection(connection_id: str) -> str:
    """One open event stream: its student, class, createdAt and lastPing, with a TTL."""
    return f"sse:connection:{connection_id}"


# Every open stream's id, scored by when its record expires: the count across processes.
SSE_CONNECTIONS = "sse:connections"


def sse_ticket(ticket: str) -> str:
    """A single-use stream ticket: the claims of the token it was issued for."""
    return f"sse:ticket:{ticket}"


# The position through which some edge process has invalidated the cache for every event: a
# restarted process catches up from here, so changes made while no edge ran are invalidated too.
EVENTS_INVALIDATED = "events:invalidated-through"
