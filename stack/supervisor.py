"""Start the stack's processes in order, wait until each is ready, watch them, and stop what was
started in reverse order on Ctrl-C, SIGTERM or when one of them exits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from db.cluster import ServiceError, port_in_use
from stack.processes import Process
from stack.settings import Stack

STOP_TIMEOUT_S = 30.0


class StopRequested(Exception):  # noqa: N818 - a request, not a failure
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested


@dataclass
class Running:
    process: Process
    child: subprocess.Popen[bytes]


def pidfile(stack: Stack, process: Process) -> Path:
    if process.pidfile is not None:
        return process.pidfile(stack)
    return stack.var_dir / "run" / f"{process.name}.pid"


def alive_pid(stack: Stack, process: Process) -> int | None:
    """The pid in the process's pidfile when that pid is alive and is this program."""
    try:
        pid = int(pidfile(stack, process).read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return None
    return pid if process.program.encode() in cmdline else None


def _wait_ready(stack: Stack, process: Process, child: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + process.ready_timeout_s
    while not process.ready(stack):
        if child is not None and child.poll() is not None:
            raise ServiceError(
                f"{process.name} exited with code {child.returncode} before it was ready"
                + (f" (see {stack.var_dir / (process.name + '.log')})" if process.log_to_file else "")
            )
        if time.monotonic() > deadline:
            raise ServiceError(f"{process.name} was not ready after {process.ready_timeout_s:.0f} s")
        time.sleep(0.1)


def _start(stack: Stack, process: Process, logs: ExitStack) -> subprocess.Popen[bytes]:
    process.prepare(stack)
    log_fd = logs.enter_context(_log_file(stack, process))
    child = subprocess.Popen(
        process.command(stack),
        env={**os.environ, **process.env(stack)},
        stdout=log_fd,
        stderr=subprocess.STDOUT if log_fd is not None else None,
        stdin=subprocess.DEVNULL,
        user=process.user,
        group=process.user,
        extra_groups=[] if process.user else None,
        # Its own process group: Ctrl-C reaches the runner, which stops everything in order.
        process_group=0,
    )
    if process.pidfile is None:
        path = pidfile(stack, process)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{child.pid}\n")
    return child


@contextlib.contextmanager
def _log_file(stack: Stack, process: Process) -> Iterator[int | None]:
    """The file descriptor the process writes its output to; None: the terminal's."""
    if not process.log_to_file:
        yield None
        return
    with (stack.var_dir / f"{process.name}.log").open("ab") as fh:
        yield fh.fileno()


def _stop(stack: Stack, running: Running) -> None:
    child, process = running.child, running.process
    if child.poll() is None:
        child.send_signal(process.stop_signal)
        try:
            child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if process.pidfile is None:
        pidfile(stack, process).unlink(missing_ok=True)


def _check_before_starting(stack: Stack, processes: Sequence[Process]) -> set[str]:
    """Refuse what cannot work before anything starts; the names of left-over services to reuse."""
    stack.check_settings()
    reused: set[str] = set()
    for process in processes:
        if not process.embedded(stack):
            continue
        pid = alive_pid(stack, process)
        if pid is not None:
            if not process.reusable:
                raise ServiceError(f"{process.name} is already running (pid {pid}): `make stop` stops it")
            reused.add(process.name)
            continue
        if process.port is not None:
            port, setting = process.port(stack)
            if port_in_use(port):
                raise ServiceError(f"port {port} is already taken: stop what uses it or set {setting}")
    return reused


def run(stack: Stack, processes: Sequence[Process]) -> int:
    """Start the stack; return when it is stopped (0) or when one of its processes exits (1)."""
    reused = _check_before_starting(stack, processes)
    stack.var_dir.mkdir(parents=True, exist_ok=True)
    env_file = stack.write_env_file()
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    started: list[Running] = []
    try:
        with ExitStack() as logs:
            for process in processes:
                if not process.embedded(stack):
                    process.external(stack)
                else:
                    child = None
                    if process.name in reused:
                        print(f"{process.name}: already running, used as it is")
                    else:
                        child = _start(stack, process, logs)
                        started.append(Running(process, child))
                    _wait_ready(stack, process, child)
                process.after_ready(stack)
            print(f"edge:      {stack.edge_url}  (GET /readyz)")
            for process in processes:
                if process.describe is not None and process.embedded(stack):
                    print(process.describe(stack))
            print(f"settings:  source {env_file}")
            print("Ctrl-C stops everything this command started.", flush=True)
            exited = _wait_for_an_exit(started)
        print(
            f"error: {exited.process.name} exited with code {exited.child.returncode}; stopping the rest",
            file=sys.stderr,
        )
        return 1
    except StopRequested:
        return 0
    finally:
        # A second Ctrl-C must not cut the orderly stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for running in reversed(started):
            _stop(stack, running)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_for_an_exit(started: Sequence[Running]) -> Running:
    """Block until one of the started processes exits (a signal interrupts the wait)."""
    ours = {running.child.pid: running for running in started}
    while True:
        if not started:
            signal.pause()
            continue
        # WNOWAIT leaves the child for Popen to reap; a child that is not ours is reaped here,
        # or the next wait would return it again at once.
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        if info is not None and info.si_pid not in ours:
            os.waitpid(info.si_pid, 0)
            continue
        for running in started:
            if running.child.poll() is not None:
                return running


def stop(stack: Stack, processes: Sequence[Process]) -> list[str]:
    """Stop processes of the stack left running (by a `make run` that was killed); their names."""
    stopped = []
    for process in reversed(processes):
        if not process.embedded(stack):
            continue
        pid = alive_pid(stack, process)
        if pid is None:
            continue
        os.kill(pid, process.stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while alive_pid(stack, process) == pid and Path(f"/proc/{pid}").exists():
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        if process.pidfile is None:
            pidfile(stack, process).unlink(missing_ok=True)
        stopped.append(process.name)
    return stopped
