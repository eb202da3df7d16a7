"""Verifying VLM Run webhook (``callback_url``) deliveries.

With a webhook secret set in the dashboard, VLM Run signs each delivery with
``X-VLMRun-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``. There is no
timestamp in the signature, so it does not protect against replays: make your handler
idempotent (key it on the execution id).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

__all__ = ["SIGNATURE_HEADER", "verify_webhook_signature"]

SIGNATURE_HEADER = "X-VLMRun-Signature"


def verify_webhook_signature(
    raw_body: bytes, signature_header: str | None, secret: str | SecretStr
) -> bool:
    """True only if ``signature_header`` is a valid ``sha256=`` HMAC of ``raw_body``.

    Verify the raw request bytes (before any JSON parsing). The comparison runs in
    constant time.

    Example:
        >>> import hashlib, hmac
        >>> body = b'{"id": "ex-1", "status": "completed"}'
        >>> header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        >>> verify_webhook_signature(body, header, "s3cret")
        True
        >>> verify_webhook_signature(body + b" ", header, "s3cret")
        False
    """
    if not signature_header:
        return False
    scheme, _, received = signature_header.strip().partition("=")
    if scheme.strip().lower() != "sha256" or not received:
        return False
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    expected = hmac.new(key.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.strip().lower())
