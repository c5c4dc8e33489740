"""Development JWTs in the Supabase access-token shape (HS256: sub, role, aud, iat, exp)."""

from __future__ import annotations

import time
import uuid

import jwt

AUDIENCE = "authenticated"


def mint(secret: str, user_id: uuid.UUID | str, ttl_seconds: int = 3600, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": str(uuid.UUID(str(user_id))),
        "role": "authenticated",
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
