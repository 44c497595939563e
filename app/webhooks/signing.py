"""Standard Webhooks signatures (https://www.standardwebhooks.com/)."""

import base64
import hashlib
import hmac
import secrets as _secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,<sig>`` per secret, space-separated.

    Several secrets are signed during a rotation's grace period, so a receiver
    holding either the old or the new secret accepts the message.
    """
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    payload = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), payload, hashlib.sha256).digest()).decode()
        for s in secrets
    )


def signed_headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Headers for one delivery; ``msg_id`` stays the same on every retry."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }
