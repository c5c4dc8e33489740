"""The baseline for bench/edge.py: Quart answering a constant JSON body, served the same way."""

from __future__ import annotations

from quart import Quart

app = Quart(__name__)

BODY = {"studentId": "00000000-0000-4000-8000-000000000000", "attendanceRate": 87.5, "trend": "stable"}


@app.get("/constant")
async def constant() -> dict[str, object]:
    return BODY
