"""Supabase's Security and Performance Advisors, run offline by the real Supabase CLI.

`supabase db advisors` runs the same lints (splinter) that a DBA sees in the Supabase dashboard
against any Postgres reachable by URL. `make lint` installs the pinned CLI from npm and runs it
against a freshly migrated database: a finding at level warn or above fails the lint.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from db.config import ROOT

DEFAULT_CLI = ROOT / ".venv" / "supabase-cli" / "node_modules" / ".bin" / "supabase"


def cli_path() -> Path:
    return Path(os.environ.get("SUPABASE_CLI") or DEFAULT_CLI)


def findings(url: str, level: str = "warn") -> list[dict[str, object]]:
    """Every finding at `level` or above, as the CLI reports them (name, level, detail, ...)."""
    cli = cli_path()
    if not cli.exists():
        raise FileNotFoundError(f"{cli} is missing: `make lint` installs the Supabase CLI")
    # The embedded server speaks no TLS; the CLI would otherwise insist on it.
    separator = "&" if "?" in url else "?"
    result = subprocess.run(
        [
            str(cli),
            "db",
            "advisors",
            "--db-url",
            f"{url}{separator}sslmode=disable",
            "--level",
            level,
            "--fail-on",
            "none",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"supabase db advisors failed: {result.stderr.strip() or result.stdout.strip()}")
    out = result.stdout.strip()
    # With no finding the CLI prints a sentence instead of a JSON list.
    if not out.startswith("["):
        return []
    parsed: list[dict[str, object]] = json.loads(out)
    return parsed


def check(url: str) -> list[str]:
    """One line per finding at level warn or above; empty when the advisors pass."""
    return [f"{f.get('level')} {f.get('name')}: {f.get('detail')}" for f in findings(url, "warn")]
