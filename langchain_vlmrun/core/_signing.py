"""Integrity for what others may write: an HMAC seal on records and relay messages.

A sealed value is ``<hex HMAC-SHA256(key, context + "\\n" + body)>\\n<body>``. The
``context`` (a store key, a channel) is inside the MAC, so a sealed value moved to
another key or channel does not open there.

Example:
    >>> from pydantic import SecretStr
    >>> key = SecretStr("a long random secret")
    >>> sealed = seal(key, "vlmrun:ab", b'{"state": "completed"}')
    >>> unseal(key, "vlmrun:ab", sealed)
    b'{"state": "completed"}'
    >>> unseal(key, "vlmrun:cd", sealed) is None  # moved to another key
    True
    >>> unseal(SecretStr("another secret"), "vlmrun:ab", sealed) is None
    True
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

__all__ = ["signing_key", "seal", "unseal"]


def signing_key(value: str | SecretStr | None) -> SecretStr | None:
    """``value`` as a ``SecretStr`` (None: no signing); a blank key is a ``ValueError``."""
    if value is None:
        return None
    key = value if isinstance(value, SecretStr) else SecretStr(value)
    if not key.get_secret_value().strip():
        raise ValueError("signing_key must not be blank; pass a long random secret.")
    return key


def _mac(key: SecretStr, context: str, body: bytes) -> bytes:
    secret = key.get_secret_value().encode()
    message = context.encode() + b"\n" + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest().encode()


def seal(key: SecretStr, context: str, body: bytes) -> bytes:
    return _mac(key, context, body) + b"\n" + body


def unseal(key: SecretStr, context: str, sealed: bytes) -> bytes | None:
    """The body of ``sealed`` if it was sealed with ``key`` for ``context``, else None."""
    mac, _, body = sealed.partition(b"\n")
    return body if hmac.compare_digest(mac, _mac(key, context, body)) else None
