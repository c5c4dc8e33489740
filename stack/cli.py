"""`python -m stack run|stop`: the local stack of `make run` and `make stop`."""

from __future__ import annotations

import argparse
import sys

from db.cluster import ServiceError
from db.config import ConfigError
from db.migrate import MigrationError
from stack import supervisor
from stack.processes import PROCESSES
from stack.settings import Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every process, migrate, seed an empty database, serve until stopped")
    sub.add_parser("stop", help="stop processes of the stack left running")
    args = parser.parse_args(argv)
    try:
        stack = Stack.from_env()
        if args.command == "run":
            return supervisor.run(stack, PROCESSES)
        stopped = supervisor.stop(stack, PROCESSES)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of the stack was running")
        return 0
    except (ConfigError, ServiceError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
