"""Verifying VLM Run webhook (``callback_url``) deliveries.

With a webhook secret set in the dashboard, VLM Run signs each delivery with
``X-VLMRun-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``. There is no
timestamp in the signature, so it does not protect against replays: make your handler
idempotent (key it on the execution id).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pydantic import SecretStr

__all__ = ["SIGNATURE_HEADER", "verify_webhook_signature"]

SIGNATURE_HEADER = "X-VLMRun-Signature"


def verify_webhook_signature(
    raw_body: bytes, signature_header: object, secret: str | SecretStr
) -> bool:
    """True only if ``signature_header`` is a valid ``sha256=`` HMAC of ``raw_body``.

    Verify the raw request bytes (before any JSON parsing). The comparison runs in
    constant time. A malformed header (missing, not text, not ASCII, another scheme,
    not 64 hex digits) is simply False: it never raises. An empty secret is a
    configuration error (anyone could sign with it) and raises ``ValueError``.

    Replays: the signature has no timestamp, so a captured delivery verifies again.
    Deduplicate by execution id, e.g. keep the ids already handled::

        if not verify_webhook_signature(body, headers.get(SIGNATURE_HEADER), secret):
            return 401
        execution = json.loads(body)
        if execution["id"] in handled:  # a retry or a replay: nothing more to do
            return 200

    Example:
        >>> import hashlib, hmac
        >>> body = b'{"id": "ex-1", "status": "completed"}'
        >>> header = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        >>> verify_webhook_signature(body, header, "s3cret")
        True
        >>> verify_webhook_signature(body + b" ", header, "s3cret")
        False
        >>> verify_webhook_signature(body, "sha256=\u00e9" * 3, "s3cret")
        False
        >>> verify_webhook_signature(body, header, "")
        Traceback (most recent call last):
        ...
        ValueError: The webhook secret is empty: set the secret from the VLM Run dashboard.
    """
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not isinstance(key, str) or not key:
        raise ValueError("The webhook secret is empty: set the secret from the VLM Run dashboard.")
    if not isinstance(signature_header, str) or not signature_header.isascii():
        return False
    scheme, _, received = signature_header.strip().partition("=")
    received = received.strip().lower()
    if scheme.strip().lower() != "sha256" or not _HEX_DIGEST.fullmatch(received):
        return False
    expected = hmac.new(key.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
