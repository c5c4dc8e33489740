"""Helpers for database tests: acting as a user exactly as PostgREST does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads


def decimal_json(conn: psycopg.Connection[Any]) -> None:
    """Read json numbers as Decimal, so rates compare exactly."""
    set_json_loads(partial(json.loads, parse_float=Decimal), conn)


def call_as(
    conn: psycopg.Connection[Any], user: uuid.UUID | None, sql: str, params: tuple[Any, ...] = ()
) -> Any:
    """Run one query as `user` (role authenticated + JWT claims, in one transaction); first column."""
    with conn.transaction():
        conn.execute("set local role authenticated")
        claims = {"role": "authenticated", "aud": "authenticated"}
        if user is not None:
            claims["sub"] = str(user)
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute(sql, params).fetchone()
        conn.execute("reset role")
    return None if row is None else row[0]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `predicate()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
