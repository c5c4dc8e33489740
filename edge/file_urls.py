"""Signed download URLs: `/files/{id}?expires=&sig=`, an HMAC-SHA256 over the file's id, the
expiry and the file's url_version. The version lives in the database and moves when a file is
quarantined or rejected, so every URL handed out before stops verifying at once; a deleted file
has no version at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

TTL_S = 24 * 3600


def signature(key: bytes, file_id: str, expires: int, version: int) -> str:
    message = f"{file_id.lower()}\n{expires}\n{version}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_url(base: str, key: bytes, file_id: str, version: int, now: float | None = None) -> str:
    """A URL valid for TTL_S from now (P32)."""
    expires = int(now if now is not None else time.time()) + TTL_S
    query = urllib.parse.urlencode({"expires": expires, "sig": signature(key, file_id, expires, version)})
    return f"{base.rstrip('/')}/files/{file_id}?{query}"


def verify(key: bytes, file_id: str, expires: int, version: int, sig: str, now: float | None = None) -> bool:
    """The signature is this file's at this version and the expiry has not passed (nor lies
    further ahead than a URL is ever valid)."""
    current = now if now is not None else time.time()
    if not current <= expires <= current + TTL_S + 60:
        return False
    return hmac.compare_digest(signature(key, file_id, expires, version), sig)
