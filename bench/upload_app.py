"""The baseline for the upload benchmark (bench/files.py): Quart streaming a request body to a
file, written aside, synced and renamed as the edge's local storage does, with no parsing, no
hashing, no database and no limits. Served by hypercorn with the project's settings."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from quart import Quart, request

app = Quart(__name__)
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
DIRECTORY = Path(os.environ.get("BENCH_UPLOAD_DIR", "/tmp"))


@app.post("/upload")
async def upload() -> tuple[dict[str, int], int]:
    name = DIRECTORY / uuid.uuid4().hex
    aside = name.with_suffix(".partial")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        async for chunk in request.body:
            size += len(chunk)
            os.write(fd, chunk)
        await asyncio.to_thread(os.fsync, fd)
    finally:
        os.close(fd)
    os.rename(aside, name)
    return {"size": size}, 201


@app.get("/healthz")
async def healthz() -> str:
    return "ok"
