"""The `email` task: send one delivery's email over a reused SMTP connection.

Each delivery has a fixed Message-ID. The delivery is marked `sending` (one more attempt)
before the message goes out and `sent` right after the server's 250, so a worker that dies
anywhere sends it again only when it died between the end of DATA and recording the reply;
that resend carries the same Message-ID and is counted. A 4xx reply, a timeout or a dropped
connection is retried; a 5xx reply is final.

An SMTP connection is held from marking `sending` to the 250; recording `sent` happens after
it is handed to the next email, so that round trip is off the connection's path. Marks that
arrive while one is in flight go together in the next call (group commit): one round trip
and one statement for several emails, none waiting longer than the call before it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiosmtplib
import asyncpg

from jobs.mail import render, sender_address
from jobs.settings import Settings
from jobs.tasks import DONE, RELEASED, Job, Outcome, Task, log

# The server said 250; `sent` is yet to be recorded.
SENT = Outcome("done", "sent")


class SmtpPool:
    """Up to `size` open SMTP connections, each reused until it fails."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self.gate = asyncio.Semaphore(settings.smtp_connections)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings.smtp
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            timeout=self.settings.smtp_timeout_s,
            username=s.username,
            password=s.password,
        )
        await client.connect()
        return client

    async def send(self, message: Any, sender: str) -> None:
        """Send on an idle connection (or a new one); the caller holds a slot of `gate`."""
        client = self.idle.get_nowait() if not self.idle.empty() else None
        try:
            if client is None or not client.is_connected:
                client = await self._connect()
            await client.send_message(message, sender=sender)
        except BaseException:
            if client is not None:
                client.close()
            raise
        self.idle.put_nowait(client)

    async def close(self) -> None:
        while not self.idle.empty():
            client = self.idle.get_nowait()
            try:
                await asyncio.wait_for(client.quit(), 2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


class Coalesced:
    """Calls made while one is in flight are made together next, as one call of `many`."""

    def __init__(self, many: Callable[[list[int]], Awaitable[dict[int, Any]]]) -> None:
        self.many = many
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.running: asyncio.Task[None] | None = None

    async def __call__(self, key: int) -> Any:
        future = self.waiting.get(key)
        if future is None:
            future = self.waiting[key] = asyncio.get_running_loop().create_future()
        if self.running is None:
            self.running = asyncio.ensure_future(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, {}
                try:
                    results = await self.many(list(batch))
                except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
                    for future in batch.values():
                        future.set_exception(exc)
                    continue
                for key, future in batch.items():
                    future.set_result(results.get(key))
        finally:
            self.running = None


async def _done(job: Job) -> Outcome:
    job.started = True
    return DONE


def classify(exc: BaseException) -> Outcome:
    """What an SMTP failure means: a 5xx reply is final; anything else may pass later."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [e.code for e in exc.recipients]
        final = all(500 <= c < 600 for c in codes)
        return Outcome("dead" if final else "retry", f"recipients refused: {exc.recipients[0].message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Outcome("dead" if 500 <= exc.code < 600 else "retry", f"SMTP {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Outcome("retry", "SMTP timed out")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return Outcome("retry", f"SMTP connection failed: {exc}")
    if isinstance(exc, aiosmtplib.SMTPException):
        return Outcome("retry", f"SMTP error: {exc}")
    raise exc


class Email(Task):
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        super().__init__(name="email")
        self.settings = settings
        self.db = pool
        self.smtp = SmtpPool(settings)
        self.sender = sender_address(settings.mail_from)
        # Called for each send whose predecessor's outcome was unknown (a metric).
        self.on_resend: Callable[[], None] = lambda: None
        self.begin = Coalesced(self._begin_many)
        self.finish = Coalesced(self._finish_many)

    @staticmethod
    def delivery_id(job: Job) -> int:
        value = job.payload.get("deliveryId")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("an email job names its deliveryId (an integer)")
        return value

    async def run(self, jobs: list[Job]) -> list[Outcome]:
        # Two messages for one delivery in a round: the first sends it, the second is done.
        seen: set[Any] = set()
        firsts: list[bool] = []
        for job in jobs:
            key = job.payload.get("deliveryId")
            firsts.append(key not in seen)
            seen.add(key)
        return list(
            await asyncio.gather(
                *(self._one(j) if first else _done(j) for j, first in zip(jobs, firsts, strict=True))
            )
        )

    async def _one(self, job: Job) -> Outcome:
        try:
            delivery_id = self.delivery_id(job)
        except ValueError as exc:
            job.started = True
            return Outcome("dead", str(exc))
        try:
            async with self.smtp.gate:
                if self.stopping.is_set():
                    return RELEASED
                job.started = True
                outcome = await self._send(delivery_id)
            if outcome is SENT:
                await self.finish(delivery_id)
                return DONE
            return outcome
        except Exception as exc:  # noqa: BLE001 - one job's bug must not stop the others
            log.exception("jobs.task_failed", task=self.name, msg_id=job.msg_id)
            return Outcome("retry", f"{type(exc).__name__}: {exc}")

    async def _send(self, delivery_id: int) -> Outcome:
        delivery = await self.begin(delivery_id)
        if delivery is None:  # sent, dead or gone: nothing to send
            return DONE
        if delivery["resend"]:
            self.on_resend()
        message = render(delivery, self.settings.mail_from, self.settings.preferences_url)
        try:
            await self.smtp.send(message, self.sender)
        except Exception as exc:  # noqa: BLE001 - classify() re-raises what is not SMTP's
            return classify(exc)
        return SENT

    async def _begin_many(self, ids: list[int]) -> dict[int, Any]:
        rows = await self.db.fetch(
            "select delivery_id, delivery::text from app.begin_email_deliveries($1::bigint[])", ids
        )
        return {r[0]: json.loads(r[1]) for r in rows}

    async def _finish_many(self, ids: list[int]) -> dict[int, Any]:
        await self.db.execute("select app.finish_email_deliveries($1::bigint[])", ids)
        return {}

    async def on_retry(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        await self._fail(conn, job, error, dead=False)

    async def on_dead(self, conn: asyncpg.Connection, job: Job, error: str) -> None:
        await self._fail(conn, job, error, dead=True)

    async def _fail(self, conn: asyncpg.Connection, job: Job, error: str, dead: bool) -> None:
        try:
            delivery_id = self.delivery_id(job)
        except ValueError:
            return
        await conn.execute("select app.fail_email_delivery($1, $2, $3)", delivery_id, error, dead)

    async def close(self) -> None:
        await self.smtp.close()
