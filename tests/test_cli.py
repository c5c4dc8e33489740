"""`python -m db` and `python -m stack` (`make run`): bad settings stop with one line; a good
run serves /readyz from its table of processes and stops what it started."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import httpx
import jwt
import psycopg
import pytest

from db.cluster import free_port, port_in_use
from db.tokens import mint
from tests import samples
from tests.db.helpers import wait_for

ROOT = Path(__file__).resolve().parent.parent


def run_db(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_module("db", *args, env=env, timeout=timeout)


def run_stack(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_module("stack", *args, env=env, timeout=timeout)


def run_module(
    module: str, *args: str, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """A var/ that the postgres user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="attendance-var-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    "url",
    ["not a url at all", "postgresql://someone@127.0.0.1:notaport/db", "postgresql://someone@127.0.0.1:1/db"],
)
def test_bad_database_url_stops_with_one_line(url: str, var_dir: Path) -> None:
    result = run_db("migrate", env={"DATABASE_URL": url, "VAR_DIR": str(var_dir)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "DATABASE_URL" in lines[0], result.stderr


def test_malformed_port_setting_stops_with_one_line(var_dir: Path) -> None:
    result = run_db("migrate", env={"PG_PORT": "eighty", "VAR_DIR": str(var_dir)})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: PG_PORT='eighty' is not a TCP port (1-65535)"


def test_taken_postgres_port_stops_with_one_line(var_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_db("migrate", env={"PG_PORT": str(port), "VAR_DIR": str(var_dir)})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {port} is already taken: stop what uses it or set PG_PORT to a free port"
    )


def test_taken_edge_port_stops_run_before_starting_anything(var_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_stack("run", env={"EDGE_PORT": str(port), "VAR_DIR": str(var_dir)})
    assert result.returncode == 1
    assert "is already taken" in result.stderr and "EDGE_PORT" in result.stderr
    assert not (var_dir / "pg").exists()


def test_malformed_redis_url_stops_run_with_one_line(var_dir: Path) -> None:
    result = run_stack(
        "run",
        env={
            "REDIS_URL": "http://example.invalid",
            "VAR_DIR": str(var_dir),
            "PG_PORT": str(free_port()),
            "EDGE_PORT": str(free_port()),
        },
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL is malformed" in lines[0], result.stderr
    assert not (var_dir / "pg").exists(), "nothing was started"


def test_token_command_mints_a_token_for_a_user() -> None:
    secret = "a-development-secret-of-at-least-32-bytes"
    user = "11111111-1111-4111-8111-111111111111"
    result = run_db("token", "--user", user, env={"JWT_SECRET": secret})
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"], audience="authenticated")
    assert claims["sub"] == user and claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 3600


def test_token_command_refuses_an_id_that_is_not_a_uuid() -> None:
    result = run_db("token", "--user", "bob", env={"JWT_SECRET": "x" * 32})
    assert result.returncode == 2
    assert "invalid UUID value: 'bob'" in result.stderr


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    """The first /readyz body the edge answers; fails if `make run` exits first."""
    bodies: list[dict[str, object]] = []

    def answered() -> bool:
        assert proc.poll() is None, f"make run exited early with {proc.returncode}"
        try:
            with urlopen(f"{url}/readyz", timeout=2) as response:
                bodies.append(json.load(response))
        except (URLError, ConnectionError, TimeoutError):
            return False
        return True

    wait_for(answered, timeout, "the edge to answer /readyz")
    return bodies[0]


@pytest.mark.slow
def test_run_serves_ready_over_seeded_data_and_stops_what_it_started(var_dir: Path) -> None:
    names = ("PG_PORT", "REDIS_PORT", "EDGE_PORT", "SMTP_PORT", "JOBS_METRICS_PORT", "CLAMD_PORT")
    ports = {name: free_port() for name in names}
    env = {**os.environ, "VAR_DIR": str(var_dir), **{k: str(v) for k, v in ports.items()}}
    for name in ("DATABASE_URL", "REDIS_URL", "EDGE_DATABASE_URL", "JWT_SECRET", "SMTP_URL", "CLAMD_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = wait_ready(f"http://127.0.0.1:{ports['EDGE_PORT']}", proc, timeout=180)
        assert body["status"] == "ready"
        run_env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in (var_dir / "run.env").read_text().splitlines()
        )
        assert set(run_env) >= {"DATABASE_URL", "EDGE_DATABASE_URL", "REDIS_URL", "JWT_SECRET", "EDGE_URL"}
        with psycopg.connect(run_env["DATABASE_URL"].strip("'")) as conn:
            assert conn.execute("select count(*) from app.students").fetchone() == (600,)
            assert conn.execute("select count(*) from app.attendance_records").fetchone() == (216_000,)
        with psycopg.connect(run_env["EDGE_DATABASE_URL"].strip("'")) as conn:
            assert conn.execute("select current_user").fetchone() == ("authenticator",)
        mahroom_email_after_a_teacher_marks(run_env["DATABASE_URL"].strip("'"), var_dir / "mail")
        certificate_scanned_and_downloaded({k: v.strip("'") for k, v in run_env.items()}, var_dir)
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "demo student token" in output
    assert not port_in_use(ports["PG_PORT"]) and not port_in_use(ports["REDIS_PORT"])
    assert not port_in_use(ports["EDGE_PORT"])
    assert not port_in_use(ports["SMTP_PORT"]) and not port_in_use(ports["JOBS_METRICS_PORT"])
    assert not port_in_use(ports["CLAMD_PORT"])
    assert f"mail:      {var_dir / 'mail'}/" in output


def mahroom_email_after_a_teacher_marks(database_url: str, mail_dir: Path) -> None:
    """The demo student's teacher marks them absent until they are mahroom (as PostgREST would:
    role and claims): the worker's email lands in var/mail/ as a file."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        student, email, class_id, teacher = conn.execute(
            "select s.id, s.email, s.class_id, ct.teacher_id"
            " from app.students as s join app.student_attendance_summary as m on m.student_id = s.id"
            " join app.class_teachers as ct on ct.class_id = s.class_id"
            " order by abs(m.present::numeric / m.marked - 0.78), s.id limit 1"
        ).fetchone() or (None, None, None, None)
        day = dt.date.today() + dt.timedelta(days=1)
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute(
                "select set_config('request.jwt.claims', %s, true)",
                (json.dumps({"sub": str(teacher), "role": "authenticated"}),),
            )
            for period in range(1, 13):
                for offset in range(10):
                    conn.execute(
                        "insert into app.attendance_records"
                        " (student_id, class_id, date, period, subject, status, marked_by)"
                        " values (%s, %s, %s, %s, 'Maths', 'absent', %s)",
                        (student, class_id, day + dt.timedelta(days=offset), period, teacher),
                    )
        assert conn.execute(
            "select level from app.student_alert_state where student_id = %s", (student,)
        ).fetchone() == ("mahroom",)

    def landed() -> bool:
        return any(
            f"To: {email}" in text and "Subject: Mahroom" in text
            for text in (path.read_text() for path in mail_dir.glob("*.eml"))
        )

    wait_for(landed, 30, "the mahroom email in var/mail/")


def certificate_scanned_and_downloaded(run_env: dict[str, str], var_dir: Path) -> None:
    """A student uploads a certificate to the running edge; the worker scans it with the stack's
    clamd (an EICAR copy is quarantined, a clean one is not); the signed URL downloads it."""
    with psycopg.connect(run_env["DATABASE_URL"]) as conn:
        row = conn.execute("select id from app.students order by id limit 1").fetchone()
    assert row is not None
    headers = {"Authorization": f"Bearer {mint(run_env['JWT_SECRET'], row[0])}"}
    edge = run_env["EDGE_URL"]
    results = {}
    contents = {"clean.pdf": samples.pdf(), "infected.pdf": samples.pdf_with_eicar()}
    for name, content in contents.items():
        response = httpx.post(
            f"{edge}/api/students/files/upload", files={"file": (name, content)}, headers=headers, timeout=30
        )
        assert response.status_code == 201, response.text
        results[name] = response.json()
    assert (var_dir / "storage" / "certificates" / f"{results['clean.pdf']['fileId']}.pdf").exists()

    assert [r["signedUrl"] for r in results.values()] == [None, None], "no URL before the scan"

    def scanned() -> bool:
        for name, r in results.items():
            results[name] = httpx.get(
                f"{edge}/api/students/files/{r['fileId']}", headers=headers, timeout=10
            ).json()
        return [r["status"] for r in results.values()] == ["clean", "quarantined"]

    wait_for(scanned, 60, "the worker to scan both certificates")
    assert httpx.get(results["clean.pdf"]["signedUrl"], timeout=10).content == contents["clean.pdf"]
    assert results["infected.pdf"]["signedUrl"] is None
