"""Bearer-token authentication: Supabase access tokens, HS256 (JWT_SECRET) or keys from a JWKS.

The algorithm is chosen by where the key comes from, never by the token: HS256 only with the
shared secret, asymmetric algorithms only with keys from the JWKS. `alg: none` and algorithm
confusion (an HMAC token signed with a public key) therefore fail.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jwt

ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA")


class TokenRejected(Exception):  # noqa: N818 - a verdict, not a bug
    """The token is not acceptable; `reason` is a short machine-readable word for the audit log."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    claims: dict[str, Any]

    @cached_property
    def key(self) -> str:
        """The user id as text: rate-limit identity, cache keys and logs."""
        return str(self.user_id)


class TokenVerifier:
    """Verifies tokens; a verified token is remembered (bounded LRU) until its `exp`, and its
    time claims are checked again on every use, so a cache hit accepts nothing a fresh check
    would refuse."""

    def __init__(
        self, secret: str | None, jwks_url: str | None, audience: str, remember: int = 10_000
    ) -> None:
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._audience = audience
        self._verified: OrderedDict[str, Caller] = OrderedDict()
        self._remember = remember

    async def verify(self, authorization: str | None) -> Caller:
        token = self._bearer(authorization)
        known = self._verified.get(token)
        if known is not None:
            now = time.time()
            if known.claims["exp"] > now and known.claims.get("nbf", 0) <= now:
                self._verified.move_to_end(token)
                return known
            del self._verified[token]
        caller = await self._verify(token)
        self._verified[token] = caller
        if len(self._verified) > self._remember:
            self._verified.popitem(last=False)
        return caller

    async def _verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenRejected("malformed_token", "The access token is malformed.") from exc
        alg = header.get("alg")
        if alg == "HS256" and self._secret:
            key: Any = self._secret
        elif alg in ASYMMETRIC and self._jwks is not None:
            try:
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            except jwt.PyJWKClientError as exc:
                raise TokenRejected(
                    "unknown_key", "The access token was signed with an unknown key."
                ) from exc
        else:
            raise TokenRejected("unsupported_algorithm", f"Tokens signed with {alg!r} are not accepted.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("expired", "The access token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRejected("not_yet_valid", "The access token is not valid yet.") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRejected("wrong_audience", "The access token is for another audience.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(
                f"missing_{exc.claim}", f"The access token has no {exc.claim} claim."
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("bad_signature", "The access token's signature does not verify.") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRejected("invalid_token", "The access token is not valid.") from exc
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise TokenRejected("invalid_subject", "The access token's subject is not a user id.") from exc
        if claims.get("role", "authenticated") != "authenticated":
            raise TokenRejected("wrong_role", "The access token is not a signed-in user's token.")
        return Caller(user_id=user_id, claims=claims)

    @staticmethod
    def _bearer(authorization: str | None) -> str:
        if not authorization:
            raise TokenRejected("missing_token", "An Authorization: Bearer <token> header is required.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected("malformed_header", "The Authorization header must be: Bearer <token>.")
        return token.strip()
