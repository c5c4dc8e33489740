"""A stand-in for Supabase Storage's object API, for the tests of the Supabase backend (no
Supabase stack runs on these machines). It answers the documented endpoints the project uses,
in the documented shapes (supabase.com/docs/reference/self-hosting-storage):

- POST /storage/v1/object/{bucket}/{path}: a multipart form with a `file` part (what the
  client libraries send), or the raw body; 200 {"Key": "bucket/path", "Id": ...}; an existing
  object without `x-upsert: true` is a 400 with statusCode 409 (Duplicate).
- GET /storage/v1/object/{bucket}/{path} and /object/authenticated/...: the bytes with their
  content type; a missing object is a 400 with statusCode 404 (not_found).
- DELETE /storage/v1/object/{bucket} with {"prefixes": [...]}: 200, the objects removed.

Every request must carry the service key as `apikey` and as a bearer token, else 400 with
statusCode 403. Objects live as files under ROOT/bucket/; content types beside them.

Run: python -m tests.storage_server PORT ROOT SERVICE_KEY
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request

app = Quart(__name__)
app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
SETTINGS: dict[str, Any] = {}


def error(status_code: str, name: str, message: str, http: int = 400) -> Response:
    body = json.dumps({"statusCode": status_code, "error": name, "message": message})
    return Response(body, status=http, content_type="application/json")


def authorized() -> bool:
    key = SETTINGS["key"]
    return request.headers.get("apikey") == key and request.headers.get("Authorization") == f"Bearer {key}"


def object_path(bucket: str, name: str) -> Path | None:
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        return None
    return Path(SETTINGS["root"]) / bucket / name


@app.post("/storage/v1/object/<bucket>/<path:name>")
async def upload(bucket: str, name: str) -> Response:
    if not authorized():
        return error("403", "Unauthorized", "invalid signature")
    target = object_path(bucket, name)
    if target is None:
        return error("400", "InvalidKey", f"Invalid key: {name}")
    if target.exists() and request.headers.get("x-upsert") != "true":
        return error("409", "Duplicate", "The resource already exists")
    if request.mimetype == "multipart/form-data":
        files = await request.files
        if "file" not in files:
            return error("400", "InvalidRequest", "No file part")
        part = files["file"]
        data, content_type = part.read(), part.mimetype or "application/octet-stream"
    else:
        data, content_type = await request.get_data(), request.mimetype or "application/octet-stream"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.with_name(target.name + ".type").write_text(content_type)
    body = json.dumps({"Key": f"{bucket}/{name}", "Id": str(uuid.uuid4())})
    return Response(body, content_type="application/json")


@app.get("/storage/v1/object/<bucket>/<path:name>")
@app.get("/storage/v1/object/authenticated/<bucket>/<path:name>")
async def download(bucket: str, name: str) -> Response:
    if not authorized():
        return error("403", "Unauthorized", "invalid signature")
    target = object_path(bucket, name)
    if target is None or not target.exists():
        return error("404", "not_found", "Object not found")
    return Response(target.read_bytes(), content_type=target.with_name(target.name + ".type").read_text())


@app.delete("/storage/v1/object/<bucket>")
async def remove(bucket: str) -> Response:
    if not authorized():
        return error("403", "Unauthorized", "invalid signature")
    body = await request.get_json()
    removed = []
    for name in body.get("prefixes", []):
        target = object_path(bucket, name)
        if target is not None and target.exists():
            target.unlink()
            target.with_name(target.name + ".type").unlink(missing_ok=True)
            removed.append({"name": name, "bucket_id": bucket})
    return Response(json.dumps(removed), content_type="application/json")


def main() -> None:
    port, root, key = sys.argv[1:4]
    SETTINGS.update(root=root, key=key)
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    main()
