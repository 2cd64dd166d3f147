"""API key material: minting, parsing and verifying keys. Only a keyed hash is ever stored.

A key reads `bgk_<key id>_<secret>`: the 16-hex-digit key id is public and finds the key's
record; the secret is 32 random bytes (base64url). The stored hash is HMAC-SHA256 of the secret
under a server-side secret, so a leaked database or event log does not yield usable keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "bgk_"
KEY_ID_LENGTH = 16
SECRET_BYTES = 32
_SECRET_LENGTH = len(base64.urlsafe_b64encode(bytes(SECRET_BYTES)).rstrip(b"="))


@dataclass(frozen=True)
class MintedKey:
    """A new key: the token to show once, and what may be stored."""

    key_id: str
    token: str
    secret_hash: str


@dataclass(frozen=True)
class KeyHasher:
    """Hashes and verifies key secrets under the server-side secret."""

    server_secret: bytes

    def __post_init__(self) -> None:
        if len(self.server_secret) < 32:
            raise ValueError("the key-hash secret must be at least 32 bytes")

    def mint(self) -> MintedKey:
        """A fresh random key."""
        key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
        return MintedKey(key_id, f"{PREFIX}{key_id}_{secret}", self.hash(secret))

    def from_token(self, token: str) -> MintedKey | None:
        """The stored form of a token supplied from outside (e.g. a configured bootstrap key)."""
        parsed = parse(token)
        return MintedKey(parsed[0], token, self.hash(parsed[1])) if parsed else None

    def hash(self, secret: str) -> str:
        """The keyed hash of a secret."""
        return hmac.new(self.server_secret, secret.encode(), hashlib.sha256).hexdigest()

    def verify(self, secret: str, stored_hash: str) -> bool:
        """True if the secret matches the stored hash (constant time)."""
        return hmac.compare_digest(self.hash(secret), stored_hash)


def parse(token: str) -> tuple[str, str] | None:
    """Split a token into (key id, secret), or None if it is not shaped like one of our keys."""
    if not token.startswith(PREFIX):
        return None
    body = token[len(PREFIX) :]
    key_id, separator, secret = body[:KEY_ID_LENGTH], body[KEY_ID_LENGTH : KEY_ID_LENGTH + 1], body[KEY_ID_LENGTH + 1 :]
    if separator != "_" or len(secret) != _SECRET_LENGTH:
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret
