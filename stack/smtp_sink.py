"""A local SMTP server that keeps every message it accepts as a file (`make run`'s mail sink).

`python -m stack.smtp_sink DIR --port N` stores each message as DIR/<time>-<n>.eml.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import signal
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailSink:
    """aiosmtpd handler: accept, store, remember (Message-ID, message) in arrival order."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.received: list[EmailMessage] = []
        self._n = itertools.count(1)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def store(self, data: bytes) -> EmailMessage:
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        if self.directory is not None:
            path = self.directory / f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._n):06d}.eml"
            path.write_bytes(data)
            path.chmod(0o600)
        return message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.store(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.smtp_sink", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    controller = Controller(MailSink(args.directory), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"smtp sink on 127.0.0.1:{args.port}, mail lands in {args.directory}", flush=True)

    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
