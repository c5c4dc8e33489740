"""Every client receives every one of its events exactly once, in commit order: a hypothesis
state machine of writes, concurrent transactions, forced disconnects and resumes on the other of
two edge processes (real hypercorn, Postgres and Redis)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from edge.settings import EdgeSettings
from tests.edge.conftest import served_edges
from tests.edge.live_helpers import Classroom, Received, listen

STATUSES = ("present", "absent", "sick", "leave")
PERIODS = st.integers(1, 3)
WHO = st.integers(0, 2)
TX = st.integers(0, 1)

Change = tuple[int, str | None, str]


class Client:
    """One student's stream: reconnected after a disconnect with the last id it received."""

    def __init__(self) -> None:
        self.connections: list[Received] = []
        self.task: asyncio.Task[None] | None = None
        self.edge = 0

    @property
    def last_id(self) -> str | None:
        ids = [r.last_id for r in self.connections if r.last_id]
        return ids[-1] if ids else None

    def changes(self) -> list[Change]:
        return [
            (data["period"], data["status"], data["change"])
            for r in self.connections
            for _, event, data in r.events
            if event == "attendance_update"
        ]

    def positions(self) -> list[str]:
        return [i for r in self.connections for i, event, _ in r.events if event == "attendance_update"]


class LiveStreams(RuleBasedStateMachine):
    db: psycopg.Connection[Any]
    db_url: str
    urls: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(30, read=None))
        self.room = Classroom(self.db, 3)
        self.students = self.room.students
        self.status: dict[tuple[uuid.UUID, int], str] = {}
        self.expected: dict[uuid.UUID, list[Change]] = {s: [] for s in self.students}
        self.clients = {s: Client() for s in self.students}
        self.txs = [psycopg.connect(self.db_url) for _ in range(2)]
        # The student each open transaction writes (one each: writers of a student wait in turn).
        self.tx_student: list[uuid.UUID | None] = [None, None]
        self.tx_changes: list[list[tuple[tuple[uuid.UUID, int], str | None, Change]]] = [[], []]
        for s in self.students:
            self._connect(s)

    # The event loop runs only inside these calls; the readers wait in between.
    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _connect(self, student: uuid.UUID) -> None:
        client = self.clients[student]
        received = Received()
        client.connections.append(received)
        last = client.last_id
        client.task = self.loop.create_task(
            listen(self.http, self.urls[client.edge], student, received, last_event_id=last)
        )
        self._run(asyncio.wait_for(received.opened.wait(), 10))
        assert received.status == 200

    def _locked(self, student: uuid.UUID, but: int | None = None) -> bool:
        return any(s == student for k, s in enumerate(self.tx_student) if k != but)

    def _change(
        self,
        student: uuid.UUID,
        period: int,
        status: str | None,
        pending: dict[tuple[uuid.UUID, int], str | None],
    ) -> tuple[tuple[uuid.UUID, int], str | None, Change] | None:
        key = (student, period)
        before = pending[key] if key in pending else self.status.get(key)
        if status is None:
            return None if before is None else (key, None, (period, None, "deleted"))
        if before is None:
            return key, status, (period, status, "marked")
        if before == status:
            return None
        return key, status, (period, status, "re-marked")

    def _write_sql(self, student: uuid.UUID, period: int, status: str | None) -> str:
        if status is None:
            return (
                "delete from app.attendance_records"
                f" where student_id = '{student}' and date = '2026-11-02' and period = {period}"
            )
        return self.room.mark_sql(period, status, [student])

    @rule(who=WHO, period=PERIODS, status=st.sampled_from((*STATUSES, None)))
    def write(self, who: int, period: int, status: str | None) -> None:
        student = self.students[who]
        if self._locked(student):
            return
        change = self._change(student, period, status, {})
        self.db.execute(self._write_sql(student, period, status))
        if change is not None:
            self.status[change[0]] = change[1]  # type: ignore[assignment]
            if change[1] is None:
                del self.status[change[0]]
            self.expected[student].append(change[2])

    @rule(k=TX, who=WHO, period=PERIODS, status=st.sampled_from(STATUSES))
    def write_in_transaction(self, k: int, who: int, period: int, status: str) -> None:
        student = self.tx_student[k] or self.students[who]
        if self._locked(student, but=k):
            return
        pending = {key: value for key, value, _ in self.tx_changes[k]}
        change = self._change(student, period, status, pending)
        self.txs[k].execute(self._write_sql(student, period, status))
        self.tx_student[k] = student
        if change is not None:
            self.tx_changes[k].append(change)

    @precondition(lambda self: any(s is not None for s in self.tx_student))
    @rule(k=TX)
    def commit(self, k: int) -> None:
        self.txs[k].commit()
        for key, value, change in self.tx_changes[k]:
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value
            self.expected[key[0]].append(change)
        self.tx_student[k], self.tx_changes[k] = None, []

    @precondition(lambda self: any(s is not None for s in self.tx_student))
    @rule(k=TX)
    def rollback(self, k: int) -> None:
        self.txs[k].rollback()
        self.tx_student[k], self.tx_changes[k] = None, []

    @rule(who=WHO, wait=st.booleans())
    def disconnect(self, who: int, wait: bool) -> None:
        """Cut a stream (after letting it read what it can, or at once); it resumes later."""
        client = self.clients[self.students[who]]
        if client.task is None:
            return
        if wait:
            self._run(asyncio.sleep(0.05))
        client.task.cancel()
        self._run(asyncio.gather(client.task, return_exceptions=True))
        client.task = None

    @rule(who=WHO)
    def resume(self, who: int) -> None:
        """Reconnect, to the other edge process, after the last id received."""
        student = self.students[who]
        client = self.clients[student]
        if client.task is not None:
            return
        client.edge = 1 - client.edge
        self._connect(student)

    def teardown(self) -> None:
        try:
            for k in (0, 1):
                if self.tx_student[k] is not None:
                    self.commit(k)
            for s in self.students:
                if self.clients[s].task is None:
                    self._connect(s)
            self._run(self._everything_delivered())
            for s in self.students:
                client = self.clients[s]
                assert client.changes() == self.expected[s], f"student {s}"
                positions = client.positions()
                assert positions == sorted(positions) and len(set(positions)) == len(positions)
        finally:
            for client in self.clients.values():
                if client.task is not None:
                    client.task.cancel()
                    self._run(asyncio.gather(client.task, return_exceptions=True))
            self._run(self.http.aclose())
            self.loop.close()
            for conn in self.txs:
                conn.close()

    async def _everything_delivered(self, timeout: float = 10.0) -> None:
        deadline = self.loop.time() + timeout
        while any(len(self.clients[s].changes()) < len(self.expected[s]) for s in self.students):
            if self.loop.time() > deadline:
                return
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now


@pytest.mark.slow
def test_every_client_receives_each_of_its_events_once_in_commit_order(
    settings: EdgeSettings, db: psycopg.Connection[Any], db_url: str
) -> None:
    with served_edges(settings, count=2, SSE_HEARTBEAT_S="1") as urls:
        LiveStreams.db, LiveStreams.db_url, LiveStreams.urls = db, db_url, list(urls)
        run_state_machine_as_test(
            LiveStreams,
            settings=settings_for_machine(),
        )


def settings_for_machine() -> settings:
    return settings(
        max_examples=15,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
