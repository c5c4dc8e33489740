"""Edge benchmark: the cached and uncached dashboard against a constant endpoint.

Starts its own Postgres (migrated, seeded, views refreshed) and Redis, then, one after the
other under the same hypercorn configuration (1 uvloop worker), three servers:
- a Quart app whose endpoint returns a constant JSON body (the baseline),
- the edge with its response cache (every request a HIT after the first),
- the edge with RESPONSE_CACHE=off (every request computed by Postgres; rate limits still run).
Each is driven by wrk with the same load (100 connections, 10 s, several rounds; the best round
counts, since two processes on two cores spread connections unevenly).

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
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.common import Report, console, machine
from db.migrate import migrate
from db.seed import seed
from db.services import EmbeddedRedis, free_port
from db.tempcluster import temp_cluster
from db.tokens import mint

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


@contextlib.contextmanager
def hypercorn(app: str, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hypercorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "uvloop",
            "--backlog",
            "1024",
            app,
        ],
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
                urllib.request.urlopen(f"{url}/healthz" if "edge" in app else f"{url}/constant", timeout=1)
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


def best(url: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    wrk(url, headers, args.connections, 2)  # warm up: pools, caches, JIT-free but cold paths
    runs = [wrk(url, headers, args.connections, args.duration) for _ in range(args.rounds)]
    return max(runs, key=lambda r: r["rps"])


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
                conn.execute("call analytics.refresh()")
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
            console.print("constant endpoint")
            with hypercorn("bench.constant_app:app", env) as (url, _):
                constant = best(f"{url}/constant", {}, args)
            console.print("dashboard, cached")
            with hypercorn("edge:create_app()", env) as (url, server):
                hit = best(f"{url}/api/students/dashboard", auth, args)
                if args.profile:
                    profiled_wrk(
                        server, f"{url}/api/students/dashboard", auth, args, args.profile / "hit.svg"
                    )
            console.print("dashboard, uncached")
            with hypercorn("edge:create_app()", {**env, "RESPONSE_CACHE": "off"}) as (url, server):
                miss = best(f"{url}/api/students/dashboard", auth, args)
                if args.profile:
                    profiled_wrk(
                        server, f"{url}/api/students/dashboard", auth, args, args.profile / "uncached.svg"
                    )
        finally:
            redis.stop()

    for name, run in (("constant", constant), ("dashboard_hit", hit), ("dashboard_uncached", miss)):
        for key, value in run.items():
            report.figure(f"{name}_{key}", value)
    report.target("dashboard_hit_rps / constant_rps", hit["rps"] / constant["rps"], ">=", 0.70)
    report.target("dashboard_hit_p50 / constant_p50", hit["p50_ms"] / constant["p50_ms"], "<=", 1.5)
    report.target("dashboard_uncached_rps / constant_rps", miss["rps"] / constant["rps"], ">=", 0.35)
    report.finish(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
