"""HMAC-SHA256 webhook signatures (base64 of the digest of the raw body), compared in
constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

from runbook.errors import ServiceUnavailable, Unauthorized


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(*, secret: str | None, body: bytes, signature: str | None, what: str) -> None:
    """Raises Unauthorized unless `signature` signs `body` with `secret`."""
    if not secret:
        raise ServiceUnavailable(f"{what} webhooks are not configured (no secret set)")
    if not signature:
        raise Unauthorized(f"{what} webhook without a signature")
    expected = sign(secret, body).encode()
    if not hmac.compare_digest(expected, signature.strip().encode()):
        raise Unauthorized(f"{what} webhook signature does not match")
