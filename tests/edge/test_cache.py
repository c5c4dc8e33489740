"""The response cache's keys and stamps: what is stored is read back only while every
generation it was computed at is still current, against the real Redis."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

from quart import Quart
from redis import Redis

from edge import keys
from edge.cache import CacheSpec
from edge.settings import EdgeSettings

BODY = {"studentId": "s", "classId": "", "attendanceRate": 90.0}


def spec_for(student: str, **changes: object) -> CacheSpec:
    fields: dict[str, object] = {"student_id": student, "student_class": True, **changes}
    return CacheSpec(student, "dashboard", 60, **fields)  # type: ignore[arg-type]


async def lookup(app: Quart, spec: CacheSpec) -> tuple[str, bytes | None]:
    state = app.extensions["edge"]
    admission = await state.gate.admit("student_reads", spec.owner, state.responses.lookup_keys(spec))
    assert admission.decision.allowed and not admission.bypass
    return admission.stamp, admission.value


async def test_an_entry_is_read_back_under_the_generations_it_was_computed_at(app: Quart) -> None:
    state, student, klass = app.extensions["edge"], str(uuid.uuid4()), str(uuid.uuid4())
    spec = spec_for(student)
    stamp, value = await lookup(app, spec)
    assert value is None and set(keys.stamped_generations(stamp)) == {keys.student_generation(student)}
    await state.responses.store(spec, stamp, {**BODY, "classId": klass})
    stamp, value = await lookup(app, spec)
    assert value is None, "computed before its class's generation could be read: not stored"
    assert set(keys.stamped_generations(stamp)) == {
        keys.student_generation(student),
        keys.class_generation(klass),
    }
    await state.responses.store(spec, stamp, {**BODY, "classId": klass})
    assert (await lookup(app, spec))[1] is not None
    await state.cache.invalidate_class(klass)
    assert (await lookup(app, spec))[1] is None, "a class-wide change invalidates the entry"


async def test_an_evicted_generation_never_brings_back_an_invalidated_entry(
    app: Quart, settings: EdgeSettings
) -> None:
    """allkeys-lru may evict a generation key while entries stamped with it live on: a missing
    generation starts a new epoch from Redis's clock, and a bump only ever moves forward."""
    state, student = app.extensions["edge"], str(uuid.uuid4())
    spec = CacheSpec(student, "weekly:2026-W07", 60, student_id=student)
    redis = Redis.from_url(settings.redis_url)
    generation = keys.student_generation(student)
    stamp, _ = await lookup(app, spec)
    await state.responses.store(spec, stamp, BODY)
    assert (await lookup(app, spec))[1] is not None
    redis.delete(generation)  # as an eviction would
    assert (await lookup(app, spec))[1] is None
    first = int(redis.get(generation) or 0)
    stamp, _ = await lookup(app, spec)
    await state.responses.store(spec, stamp, BODY)
    await state.cache.invalidate_student(student)
    assert int(redis.get(generation) or 0) > first
    redis.delete(generation)
    await state.cache.invalidate_student(student)
    assert int(redis.get(generation) or 0) > first, "a bump of an evicted key starts from the clock"
    assert (await lookup(app, spec))[1] is None


async def test_a_change_during_the_computation_keeps_its_result_out_of_the_cache(app: Quart) -> None:
    """The stamp is the one the lookup saw, before computing: a generation bumped while the
    database answered makes the stored entry unreadable at once, not at its TTL."""
    state, student, klass = app.extensions["edge"], str(uuid.uuid4()), str(uuid.uuid4())
    spec = spec_for(student, class_id=klass, student_class=False)
    stamp, _ = await lookup(app, spec)
    await state.cache.invalidate_student(student)
    await state.responses.store(spec, stamp, {**BODY, "classId": klass})
    assert (await lookup(app, spec))[1] is None
    stamp, _ = await lookup(app, spec)
    await state.responses.store(spec, stamp, {**BODY, "classId": klass})
    assert (await lookup(app, spec))[1] is not None, "the next computation is stored"


async def test_a_student_who_changed_class_is_looked_up_under_the_new_class(app: Quart) -> None:
    state, student = app.extensions["edge"], str(uuid.uuid4())
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    spec = spec_for(student)
    for _ in range(2):
        stamp, _ = await lookup(app, spec)
        await state.responses.store(spec, stamp, {**BODY, "classId": old})
    assert (await lookup(app, spec))[1] is not None
    await state.cache.invalidate_student(student)
    stamp, _ = await lookup(app, spec)
    await state.responses.store(spec, stamp, {**BODY, "classId": new})
    assert (await lookup(app, spec))[1] is None, "computed as a member of the new class: not stored"
    assert keys.class_generation(new) in state.responses.lookup_keys(spec)
    stamp, _ = await lookup(app, spec)
    await state.responses.store(spec, stamp, {**BODY, "classId": new})
    await state.cache.invalidate_class(old)
    assert (await lookup(app, spec))[1] is not None, "the old class no longer matters"
    await state.cache.invalidate_class(new)
    assert (await lookup(app, spec))[1] is None, "the new class does"


async def test_a_miss_after_a_bump_does_not_join_an_older_computation(app: Quart) -> None:
    """Single flight is per key and stamp: a request whose lookup saw the bump computes anew."""
    state, student = app.extensions["edge"], str(uuid.uuid4())
    spec = CacheSpec(student, "weekly:2026-W07", 60, student_id=student)
    release = asyncio.Event()
    computed: list[str] = []

    def computation(label: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def compute() -> dict[str, Any]:
            computed.append(label)
            await release.wait()
            return {**BODY, "label": label}

        return compute

    before, _ = await lookup(app, spec)
    older = asyncio.ensure_future(state.responses.single_flight(spec, before, computation("before")))
    await asyncio.sleep(0)
    await state.cache.invalidate_student(student)
    after, _ = await lookup(app, spec)
    newer = asyncio.ensure_future(state.responses.single_flight(spec, after, computation("after")))
    await asyncio.sleep(0)
    release.set()
    assert ((await older)["label"], (await newer)["label"]) == ("before", "after")
    assert computed == ["before", "after"]


def test_a_users_own_keys_share_one_cluster_slot() -> None:
    user = str(uuid.uuid4())
    own = [
        keys.rate_window("student_reads", user),
        keys.rate_violation("student_reads", user),
        keys.cached_response(user, "dashboard"),
        keys.refresh_lock(keys.cached_response(user, "dashboard")),
        keys.student_generation(user),
    ]
    assert {re.search(r"\{([^}]*)\}", k).group(1) for k in own} == {user}  # type: ignore[union-attr]


def test_the_lua_scripts_touch_only_keys_declared_in_keys() -> None:
    """Every redis.call names its key as KEYS[...] (TIME takes none), so a script's keys are
    all declared, as Redis Cluster requires."""
    calls = 0
    for script in files("edge").joinpath("lua").iterdir():
        for command, first in re.findall(r"redis\.call\('(\w+)'(?:,\s*([^,)]+))?", script.read_text()):
            calls += 1
            if command != "TIME":
                assert re.fullmatch(r"KEYS\[\w+\]", first.strip()), f"{script.name}: {command} {first}"
    assert calls >= 12
