"""Every token attack gets 401 and exactly one audit entry (which never holds the token)."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from quart.typing import TestClientProtocol as Client

from db.cluster import free_port
from db.seed import SeedResult
from edge import create_app
from edge.settings import EdgeSettings
from tests.edge.conftest import SECRET, token

PATH = "/api/students/dashboard"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(user: uuid.UUID, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": str(user),
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def failures(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute(
        "select metadata ->> 'reason', success, user_id from audit.audit_logs where action = 'login_failure'"
    ).fetchall()


def attacks(user: uuid.UUID) -> dict[str, tuple[str | None, str]]:
    """name -> (Authorization header, expected audit reason)."""
    now = int(time.time())
    return {
        "no header": (None, "missing_token"),
        "not bearer": (f"Basic {token(user)}", "malformed_header"),
        "garbage": ("Bearer not.a.jwt", "malformed_token"),
        "alg none": (
            f"Bearer {b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(user))}.",
            "unsupported_algorithm",
        ),
        "wrong key": (
            f"Bearer {jwt.encode(claims(user), 'another-secret-of-at-least-32-bytes!!', 'HS256')}",
            "bad_signature",
        ),
        "expired": (f"Bearer {jwt.encode(claims(user, exp=now - 10), SECRET, 'HS256')}", "expired"),
        "not yet valid": (
            f"Bearer {jwt.encode(claims(user, nbf=now + 600), SECRET, 'HS256')}",
            "not_yet_valid",
        ),
        "wrong audience": (
            f"Bearer {jwt.encode(claims(user, aud='service'), SECRET, 'HS256')}",
            "wrong_audience",
        ),
        "missing sub": (
            f"Bearer {jwt.encode({k: v for k, v in claims(user).items() if k != 'sub'}, SECRET, 'HS256')}",
            "missing_sub",
        ),
        "sub not a uuid": (
            f"Bearer {jwt.encode(claims(user, sub='admin'), SECRET, 'HS256')}",
            "invalid_subject",
        ),
        "anon key": (f"Bearer {jwt.encode(claims(user, role='anon'), SECRET, 'HS256')}", "wrong_role"),
    }


@pytest.mark.parametrize("attack", list(attacks(uuid.uuid4())))
async def test_attack_is_refused_and_audited_once(
    attack: str, client: Client, school: SeedResult, db: psycopg.Connection[Any]
) -> None:
    header, reason = attacks(school.demo_student_id)[attack]
    response = await client.get(PATH, headers={"Authorization": header} if header else {})
    body = await response.get_json()
    assert response.status_code == 401, body
    assert body["error"]["code"] == "AUTHENTICATION_ERROR"
    assert failures(db) == [(reason, False, None)]
    if header:
        secret_part = header.split(" ", 1)[1]
        leaked = db.execute(
            "select count(*) from audit.audit_logs where strpos(row_to_json(audit_logs)::text, %s) > 0",
            (secret_part,),
        ).fetchone()
        assert leaked == (0,), "the token never reaches the audit log"


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def rsa_key() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    """An RSA key pair whose public half is served as a JWKS on localhost."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
    handler = type("Jwks", (_Jwks,), {"body": json.dumps({"keys": [jwk]}).encode()})
    server = HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()


async def test_jwks_keys_verify_and_algorithm_confusion_is_refused(
    settings: EdgeSettings, school: SeedResult, db: psycopg.Connection[Any], rsa_key: tuple[Any, str]
) -> None:
    key, url = rsa_key
    app = create_app(dataclasses.replace(settings, jwt_jwks_url=url))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        good = jwt.encode(claims(school.demo_student_id), key, "RS256", headers={"kid": "test-key"})
        response = await client.get(PATH, headers={"Authorization": f"Bearer {good}"})
        assert response.status_code == 200, await response.get_json()

        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # The classic confusion: HMAC-sign with the public key, hoping the server verifies with it.
        forged_header = b64({"alg": "HS256", "typ": "JWT", "kid": "test-key"})
        payload = b64(claims(school.demo_student_id))
        import hashlib
        import hmac

        signature = hmac.new(public_pem, f"{forged_header}.{payload}".encode(), hashlib.sha256).digest()
        forged = f"{forged_header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
        response = await client.get(PATH, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
        assert failures(db) == [("bad_signature", False, None)]


def test_logged_stack_traces_carry_no_frame_locals(capsys: pytest.CaptureFixture[str]) -> None:
    """A token or secret held in a local variable must never reach the log with the trace."""
    import structlog

    from edge.observability import configure_logging

    configure_logging()
    bearer_token = token(uuid.uuid4())

    def fails(authorization: str) -> None:
        raise RuntimeError("boom")

    try:
        fails(f"Bearer {bearer_token}")
    except RuntimeError:
        structlog.get_logger("edge").exception("unhandled_error")
    out = capsys.readouterr().out
    assert "unhandled_error" in out and "boom" in out, "the trace is logged"
    assert bearer_token not in out and SECRET not in out
