"""The `email` task: send one delivery's email over a reused SMTP connection.

Each delivery has a fixed Message-ID. The delivery is marked `sending` (one more attempt)
before the message goes out and `sent` right after the server's 250, so a worker that dies
anywhere sends it again only when it died between the end of DATA and recording the reply;
that resend carries the same Message-ID and is counted. A 4xx reply, a timeout or a dropped
connection is retried; a 5xx reply is final.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiosmtplib
import asyncpg

from jobs.mail import render, sender_address
from jobs.settings import Settings
from jobs.tasks import DONE, Job, Outcome, Task


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
        async with self.gate:
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
        super().__init__(name="email", concurrency=settings.smtp_connections)
        self.settings = settings
        self.db = pool
        self.smtp = SmtpPool(settings)
        self.sender = sender_address(settings.mail_from)
        self.resends = 0

    @staticmethod
    def delivery_id(job: Job) -> int:
        value = job.payload.get("deliveryId")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("an email job names its deliveryId (an integer)")
        return value

    async def handle(self, job: Job) -> Outcome:
        try:
            delivery_id = self.delivery_id(job)
        except ValueError as exc:
            return Outcome("dead", str(exc))
        # jsonb arrives as text: the pgmq client encodes and decodes its own.
        delivery = json.loads(await self.db.fetchval("select app.begin_email_delivery($1)", delivery_id))
        if not delivery["send"]:
            return DONE
        if delivery["resend"]:
            self.resends += 1
        message = render(delivery, self.settings.mail_from, self.settings.preferences_url)
        try:
            await self.smtp.send(message, self.sender)
        except Exception as exc:  # noqa: BLE001 - classify() re-raises what is not SMTP's
            return classify(exc)
        await self.db.execute("select app.finish_email_delivery($1)", delivery_id)
        return DONE

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
