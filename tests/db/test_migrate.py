"""The migration runner's promises, on real databases with small migration sets of their own."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from db.config import MIGRATIONS_DIR
from db.migrate import LOCK_KEY, MigrationError, discover, migrate, status
from db.tempcluster import temp_cluster
from tests.db.helpers import wait_for

FIRST = "20260101000000_create_widgets.sql"
GATE = 4242
SECOND = "20260102000000_add_widget_log.sql"


def write(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_text(sql)
    return path


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    write(tmp_path, FIRST, "create table public.widgets (id int primary key);\n")
    write(
        tmp_path,
        SECOND,
        "create table public.widget_log (version text);\n"
        # The test of two runners holds this lock to keep the first runner inside this file.
        f"select pg_advisory_xact_lock({GATE});\n"
        "insert into public.widget_log values ('second');\n",
    )
    return tmp_path


def history(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, name, array_length(statements, 1) from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()


def test_applies_in_order_and_records_history(empty_db_url: str, migrations: Path) -> None:
    applied = migrate(empty_db_url, migrations, log=lambda _: None)
    assert applied == ["20260101000000", "20260102000000"]
    assert history(empty_db_url) == [
        ("20260101000000", "create_widgets", 1),
        ("20260102000000", "add_widget_log", 3),
    ]


def test_second_run_applies_nothing(empty_db_url: str, migrations: Path) -> None:
    migrate(empty_db_url, migrations, log=lambda _: None)
    assert migrate(empty_db_url, migrations, log=lambda _: None) == []
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select count(*) from public.widget_log").fetchone() == (1,)


def test_changed_applied_file_is_refused(empty_db_url: str, migrations: Path) -> None:
    migrate(empty_db_url, migrations, log=lambda _: None)
    write(migrations, FIRST, "create table public.widgets (id bigint primary key);\n")
    write(migrations, "20260103000000_later.sql", "create table public.later (id int);\n")
    with pytest.raises(MigrationError, match=f"{FIRST} was changed after it was applied"):
        migrate(empty_db_url, migrations, log=lambda _: None)
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select to_regclass('public.later')").fetchone() == (None,)
    assert [s.state for s in status(empty_db_url, migrations)] == ["changed", "applied", "pending"]


def waiting_on(conn: psycopg.Connection[Any], key: int) -> int:
    """Sessions waiting for the advisory lock `key`, as pg_locks shows them."""
    row = conn.execute(
        "select count(*) from pg_locks where locktype = 'advisory' and not granted"
        " and (classid::bigint << 32 | objid::bigint) = %s",
        (key,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_two_runners_at_once_apply_each_file_once(empty_db_url: str, migrations: Path) -> None:
    """The first runner is held inside the second file; the second runner is seen waiting for
    the runners' lock; then the first finishes and the second finds nothing left to apply."""
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = migrate(empty_db_url, migrations, log=lambda _: None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with psycopg.connect(empty_db_url, autocommit=True) as gate:
        gate.execute("select pg_advisory_lock(%s)", (GATE,))
        first = threading.Thread(target=run, args=("first",))
        first.start()
        wait_for(lambda: waiting_on(gate, GATE) == 1, 30, "the first runner to reach the second file")
        second = threading.Thread(target=run, args=("second",))
        second.start()
        wait_for(lambda: waiting_on(gate, LOCK_KEY) == 1, 30, "the second runner to wait for the first")
        gate.execute("select pg_advisory_unlock(%s)", (GATE,))
        for t in (first, second):
            t.join(timeout=60)
    assert errors == []
    assert results == {"first": ["20260101000000", "20260102000000"], "second": []}
    assert [v for v, _, _ in history(empty_db_url)] == ["20260101000000", "20260102000000"]
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select count(*) from public.widget_log").fetchone() == (1,)


def test_syntax_error_names_file_and_line_and_keeps_earlier_files(
    empty_db_url: str, migrations: Path
) -> None:
    write(
        migrations,
        "20260103000000_broken.sql",
        "create table public.half_done (id int);\n\n-- the next line is wrong\nselec 1;\n",
    )
    write(migrations, "20260104000000_after.sql", "create table public.after (id int);\n")
    with pytest.raises(MigrationError) as err:
        migrate(empty_db_url, migrations, log=lambda _: None)
    assert "20260103000000_broken.sql:4" in str(err.value)
    assert "syntax error" in str(err.value)
    assert [v for v, _, _ in history(empty_db_url)] == ["20260101000000", "20260102000000"]
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute("select to_regclass('public.half_done'), to_regclass('public.after')").fetchone()
    assert row == (None, None), "the failed file left nothing behind and later files did not run"
    assert [s.state for s in status(empty_db_url, migrations)] == ["applied", "applied", "pending", "pending"]


def test_history_written_by_the_supabase_cli_counts_as_applied(empty_db_url: str, migrations: Path) -> None:
    """The CLI records versions without our checksum: the runner adopts them, applies nothing."""
    migrate(empty_db_url, migrations, log=lambda _: None)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("delete from supabase_migrations.schema_migration_checksums")
    assert migrate(empty_db_url, migrations, log=lambda _: None) == []
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute(
            "select count(*) from supabase_migrations.schema_migration_checksums"
        ).fetchone() == (2,)


def test_bootstrap_creates_supabase_roles_and_auth_helpers(empty_db_url: str, migrations: Path) -> None:
    migrate(empty_db_url, migrations, log=lambda _: None)
    with psycopg.connect(empty_db_url) as conn:
        roles = {
            r
            for (r,) in conn.execute(
                "select rolname from pg_roles"
                " where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')"
            )
        }
        assert roles == {"anon", "authenticated", "service_role", "authenticator"}
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            ('{"sub": "11111111-1111-4111-8111-111111111111", "role": "authenticated"}',),
        )
        row = conn.execute("select auth.uid()::text, auth.role(), auth.jwt() ->> 'role'").fetchone()
        assert row == ("11111111-1111-4111-8111-111111111111", "authenticated", "authenticated")
        assert conn.execute("select to_regclass('pgmq.meta') is not null").fetchone() == (True,)


def test_misnamed_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "create_things.sql", "select 1;")
    with pytest.raises(MigrationError, match="<yyyymmddhhmmss>_<verb_object>.sql"):
        discover(tmp_path)


def test_project_migrations_are_all_applied_to_the_template(db_url: str) -> None:
    assert {s.state for s in status(db_url, MIGRATIONS_DIR)} == {"applied"}


@pytest.mark.slow
def test_moving_pg_cron_out_of_public_keeps_every_job(tmp_path: Path) -> None:
    """The advisors' migration drops and re-creates pg_cron in pg_catalog: jobs of a DBA's (named
    alike for two users, unnamed, inactive, in another user's name) come back as they were."""
    moving = next(m for m in discover() if m.name == "pass_supabase_advisors")
    for migration in discover():
        if migration.version < moving.version:
            write(tmp_path, migration.path.name, migration.sql)
    jobs = "select jobname, schedule, command, database, username, active from cron.job order by 1, 2"
    with temp_cluster() as pg:
        migrate(pg.url(), tmp_path, log=lambda _: None)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute("create role dba_bob login")
            conn.execute(
                "select cron.schedule_in_database('nightly', '1 1 * * *', 'select 1', %s, 'dba_bob', false)",
                (pg.dbname,),
            )
            conn.execute("select cron.schedule('nightly', '2 2 * * *', 'select 2')")
            conn.execute("select cron.schedule('3 3 * * *', 'select 3')")
            before = conn.execute(jobs).fetchall()
            assert conn.execute(
                "select extnamespace::regnamespace::text from pg_extension where extname = 'pg_cron'"
            ).fetchone() == ("public",)
        write(tmp_path, moving.path.name, moving.sql)
        migrate(pg.url(), tmp_path, log=lambda _: None)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            assert conn.execute(jobs).fetchall() == before
            assert conn.execute(
                "select extnamespace::regnamespace::text from pg_extension where extname = 'pg_cron'"
            ).fetchone() == ("pg_catalog",)
