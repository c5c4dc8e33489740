"""Run each pgTAP file (supabase/tests/database) with pg_prove against a fresh database."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from db.config import PGTAP_DIR

HELPERS = PGTAP_DIR / "000_helpers.test.sql"
FILES = sorted(p for p in PGTAP_DIR.glob("*.test.sql") if p != HELPERS)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_pgtap_file(path: Path, db_url: str) -> None:
    pg_prove = shutil.which("pg_prove")
    assert pg_prove, "pg_prove is missing: install postgresql-15-pgtap (make system)"
    result = subprocess.run(
        [pg_prove, "--verbose", "--failures", "--dbname", db_url, str(HELPERS), str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_pgtap_file_is_collected() -> None:
    assert len(FILES) >= 3, "the pgTAP suite went missing"
