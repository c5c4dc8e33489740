"""Run SQL as the caller, exactly as PostgREST does, with retries on connection failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed

from edge.errors import ServiceUnavailableError, from_database

# Prefixed to every statement run as the caller (see Database.call_as).
AS_CALLER = "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true); "

# Failures that happen before a statement could have done anything: safe to retry a read.
CONNECTION_FAILURES = (psycopg.OperationalError, PoolTimeout)
# psycopg files some statement errors under OperationalError too (class 55, an object not in
# the state the statement needs): those are the caller's answer, not the connection's failure.
STATEMENT_CLASSES = ("55",)


def _statement_error(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and (exc.sqlstate or "")[:2] in STATEMENT_CLASSES


class Database:
    def __init__(self, pool: AsyncConnectionPool, retry_delays_s: Sequence[float]) -> None:
        self.pool = pool
        self._delays = tuple(retry_delays_s)

    def _retries(self) -> AsyncRetrying:
        """Attempts after the first has failed and the first delay has passed: the rest of the
        delays between them."""
        rest = self._delays[1:]
        return AsyncRetrying(
            stop=stop_after_attempt(len(self._delays)),
            wait=wait_chain(*[wait_fixed(d) for d in rest]) if rest else wait_fixed(0),
            retry=retry_if_exception(
                lambda e: isinstance(e, CONNECTION_FAILURES) and not _statement_error(e)
            ),
            reraise=True,
        )

    async def call_as(
        self, claims: dict[str, Any], sql: str, params: Sequence[Any] = (), *, read_only: bool = True
    ) -> Any:
        """One statement as role authenticated with these claims, in one transaction and one round
        trip; the first column of its first row.

        The settings and the statement go as one simple-protocol query: Postgres runs the
        statements of one query message in a single implicit transaction, so the local role and
        claims hold for the statement and end with it, exactly as PostgREST's per-request
        transaction does. psycopg binds the parameters client-side, as quoted literals."""
        statement = AS_CALLER + sql
        args = (json.dumps(claims), *params)
        try:
            try:
                return await self._first_column(statement, args)
            except CONNECTION_FAILURES as exc:
                if _statement_error(exc):
                    raise from_database(exc) from exc
                # Writes are never retried: a dropped connection may have committed them.
                if not read_only or not self._delays:
                    raise
            # The read failed on its connection: try again after each delay (1 s, 2 s, 4 s).
            # Retrying sits off the first attempt's path, which is every request's.
            await asyncio.sleep(self._delays[0])
            async for attempt in self._retries():
                with attempt:
                    return await self._first_column(statement, args)
        except CONNECTION_FAILURES as exc:
            if _statement_error(exc):
                raise from_database(exc) from exc
            raise ServiceUnavailableError("The database is unavailable; try again shortly.") from exc
        except psycopg.Error as exc:
            raise from_database(exc) from exc
        raise AssertionError("unreachable")

    async def _first_column(self, statement: str, args: Sequence[Any]) -> Any:
        async with self.pool.connection() as conn:
            cur = psycopg.AsyncClientCursor(conn)
            await cur.execute(statement, args)
            cur.nextset()
            row = await cur.fetchone()
        return None if row is None else row[0]

    async def stream_as(
        self, claims: dict[str, Any], sql: str, params: Sequence[Any] = (), batch: int = 500
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of one read as the caller, `batch` at a time, from a server-side cursor in
        one transaction (the role and claims local to it, as in call_as): memory stays bounded
        however many rows there are."""
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute(AS_CALLER.rstrip("; "), (json.dumps(claims),))
                async with conn.cursor(name="stream_as") as cur:
                    await cur.execute(sql, params)
                    while rows := await cur.fetchmany(batch):
                        yield rows
        except CONNECTION_FAILURES as exc:
            raise ServiceUnavailableError("The database is unavailable; try again shortly.") from exc
        except psycopg.Error as exc:
            raise from_database(exc) from exc

    async def call_as_edge(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A statement as the edge's own login role (audit entries), committed; first column."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return None if row is None else row[0]
