"""A throwaway Postgres cluster (same configuration as the embedded one) for lint and benchmarks."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from db.cluster import EmbeddedPostgres, free_port


@contextlib.contextmanager
def temp_cluster(
    dbname: str = "attendance", extra_conf: dict[str, str] | None = None
) -> Iterator[EmbeddedPostgres]:
    root = Path(tempfile.mkdtemp(prefix="attendance-pg-"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(
        datadir=root / "data",
        port=free_port(),
        dbname=dbname,
        password=secrets.token_urlsafe(16),
        extra_conf={
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **(extra_conf or {}),
        },
    )
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
