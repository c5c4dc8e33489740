"""Edge benchmark: the cached and uncached dashboard against a constant endpoint.

Starts its own Postgres (migrated, seeded, vacuumed, views refreshed) and Redis, then three
servers under the same hypercorn configuration (edge/hypercorn.toml, 1 uvloop worker each):
- a Quart app whose endpoint returns a constant JSON body (the baseline),
- the edge with its response cache (every request a HIT after the first),
- the edge with RESPONSE_CACHE=off (every request computed by Postgres; rate limits still run).
wrk drives one server at a time with the same load (100 connections, 10 s); rounds interleave
the three (constant, cached, uncached, constant, ...), so drift on a shared machine touches all
of them alike. The best round of each counts, since two processes on two cores spread
connections unevenly; the median is reported beside it.

    python -m bench.edge [--connections 100 --duration 10 --rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.common import Report, console, machine
from db.cluster import free_port
from db.migrate import migrate
from db.seed import seed
from db.tempcluster import temp_cluster
from db.tokens import mint
from edge.main import SERVED_APP, hypercorn_command
from stack.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def worker_pid(server: subprocess.Popen[bytes]) -> int:
    """hypercorn serves from a child process (beside multiprocessing's resource tracker)."""
    for child in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split():
        if "resource_tracker" not in Path(f"/proc/{child}/cmdline").read_text():
            return int(child)
    raise RuntimeError("no hypercorn worker found")


def profiled_wrk(
    server: subprocess.Popen[bytes], url: str, headers: dict[str, str], args: argparse.Namespace, out: Path
) -> dict[str, float]:
    """One round of load while py-spy samples the worker; writes a flame graph (SVG)."""
    spy = subprocess.Popen(
        [
            # py-spy comes with the dev extras, beside this interpreter.
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-p",
            str(worker_pid(server)),
            "-d",
            str(max(args.duration - 2, 1)),
            "-r",
            "200",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result = wrk(url, headers, args.connections, args.duration)
    spy.wait(timeout=60)
    return result


def _answers(url: str, app: str) -> bool:
    """The server is up: the edge's /healthz or the constant app's endpoint answers; for any
    other app (an event stream that never ends), its port accepts a connection."""
    if "edge" in app or "constant" in app:
        urllib.request.urlopen(f"{url}/healthz" if "edge" in app else f"{url}/constant", timeout=1)
    else:
        host, port = url.removeprefix("http://").split(":")
        socket.create_connection((host, int(port)), timeout=1).close()
    return True


@contextlib.contextmanager
def hypercorn(app: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        hypercorn_command(f"127.0.0.1:{port}", app, "--workers", "1"),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _answers(url, app)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{app} did not start") from None
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def wrk(url: str, headers: dict[str, str], connections: int, duration: int) -> dict[str, float]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {q: float(v) * UNIT[u] for q, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", out)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "errors": float(non2xx.group(1)) if non2xx else 0,
    }


def interleaved(
    targets: dict[str, tuple[str, dict[str, str]]], args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    """Rounds of wrk over every target in turn, after a warm-up of each (pools, caches)."""
    for url, headers in targets.values():
        wrk(url, headers, args.connections, 2)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for round_no in range(1, args.rounds + 1):
        for name, (url, headers) in targets.items():
            runs[name].append(wrk(url, headers, args.connections, args.duration))
            console.print(f"round {round_no}: {name} {runs[name][-1]['rps']:,.0f} req/s")
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.edge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--profile", type=Path, help="also record py-spy flame graphs of the edge worker into this folder"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench-edge` installs it")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    secret = secrets.token_urlsafe(32)
    with temp_cluster() as pg, tempfile.TemporaryDirectory() as redis_dir:
        redis = EmbeddedRedis(Path(redis_dir), free_port(), secrets.token_urlsafe(12), maxmemory="128mb")
        redis.start()
        try:
            migrate(pg.url(), log=lambda _: None)
            school = seed(pg.url(), quiet=True)
            edge_password = secrets.token_urlsafe(12)
            import psycopg

            with psycopg.connect(pg.url(), autocommit=True) as conn:
                # Settle the fresh tables now, so autovacuum does not start during a round.
                conn.execute("vacuum analyze")
                conn.execute("select analytics.refresh()")
                conn.execute(
                    psycopg.sql.SQL("alter role authenticator password {}").format(
                        psycopg.sql.Literal(edge_password)
                    )
                )
            env = {
                "EDGE_DATABASE_URL": pg.url(user="authenticator", password=edge_password),
                "REDIS_URL": redis.url(),
                "JWT_SECRET": secret,
                # The limiter still runs on every request; the limit is raised so it never refuses.
                "RATE_LIMITS": json.dumps({"student_reads": [1_000_000_000, 60]}),
            }
            auth = {"Authorization": f"Bearer {mint(secret, school.demo_student_id, ttl_seconds=3600)}"}
            report = Report(
                "edge",
                machine(
                    {"connections": args.connections, "duration_s": args.duration, "rounds": args.rounds}
                ),
            )
            with contextlib.ExitStack() as servers:
                constant_url, _ = servers.enter_context(hypercorn("bench.constant_app:app", env))
                hit_url, hit_server = servers.enter_context(hypercorn(SERVED_APP, env))
                miss_url, miss_server = servers.enter_context(
                    hypercorn(SERVED_APP, {**env, "RESPONSE_CACHE": "off"})
                )
                dashboard = "/api/students/dashboard"
                runs = interleaved(
                    {
                        "constant": (f"{constant_url}/constant", {}),
                        "dashboard_hit": (f"{hit_url}{dashboard}", auth),
                        "dashboard_uncached": (f"{miss_url}{dashboard}", auth),
                    },
                    args,
                )
                if args.profile:
                    profiled_wrk(hit_server, f"{hit_url}{dashboard}", auth, args, args.profile / "hit.svg")
                    profiled_wrk(
                        miss_server, f"{miss_url}{dashboard}", auth, args, args.profile / "uncached.svg"
                    )
        finally:
            redis.stop()

    best = {name: max(rounds, key=lambda r: r["rps"]) for name, rounds in runs.items()}
    for name, run in best.items():
        for key, value in run.items():
            report.figure(f"{name}_{key}", value)
        report.figure(f"{name}_rps_median", statistics.median(r["rps"] for r in runs[name]))
    constant, hit, miss = best["constant"], best["dashboard_hit"], best["dashboard_uncached"]
    report.target("dashboard_hit_rps / constant_rps", hit["rps"] / constant["rps"], ">=", 0.70)
    report.target("dashboard_hit_p50 / constant_p50", hit["p50_ms"] / constant["p50_ms"], "<=", 1.5)
    report.target("dashboard_uncached_rps / constant_rps", miss["rps"] / constant["rps"], ">=", 0.35)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
