"""schemathesis against /openapi.json of a real edge process, as a new user would run it: as a
student, a teacher and an admin, every check, a bounded number of examples and a fixed seed.
`make fuzz ARGS=...` runs the same with more examples and passes ARGS to schemathesis."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from db.seed import SeedResult
from edge.settings import EdgeSettings
from tests.edge.conftest import served_edges, token

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261130")
EXTRA = shlex.split(os.environ.get("SCHEMATHESIS_ARGS", ""))
# High enough that the examples exercise the endpoints rather than the limits.
GENEROUS_LIMITS = (
    '{"student_reads": [100000, 60], "student_writes": [100000, 60], "staff_reads": [100000, 60],'
    ' "admin": [100000, 60], "sse_tickets": [100000, 60], "anonymous": [100000, 60], "export": [100000, 60],'
    ' "upload": [100000, 60], "staff_writes": [100000, 60], "download": [100000, 60]}'
)

# What a schema cannot say: an export's `to` may not come before its `from` (a 400 naming `to`).
CONFIG = """
[[operations]]
include-path = "/api/students/export"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "429"]

# Nor that an upload's bytes must be a real PDF, JPEG or PNG whose name agrees (415), with a
# name that is display text (400).
[[operations]]
include-path = "/api/students/files/upload"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "413", "415", "429"]
"""


@pytest.mark.slow
@pytest.mark.parametrize("role", ["student", "teacher", "admin"])
def test_schemathesis_finds_nothing(
    settings: EdgeSettings, school: SeedResult, role: str, tmp_path: Path
) -> None:
    user: uuid.UUID = {
        "student": school.demo_student_id,
        "teacher": school.demo_teacher_id,
        "admin": school.admin_id,
    }[role]
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    with served_edges(settings, RATE_LIMITS=GENEROUS_LIMITS) as [url]:
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token(user, ttl=7200)}",
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                SEED,
                "--no-color",
                # An event stream never ends: its own tests (tests/edge/test_live*.py) cover it.
                "--exclude-path",
                "/api/students/notifications/sse",
                *EXTRA,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
