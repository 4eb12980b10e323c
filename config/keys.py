"""The field-encryption keys' text form (FIELD_ENCRYPTION_KEYS): read by the settings, which
check every key at start-up, and by integrations/connections/encryption.py, which uses them.
Here, below both, so the settings do not reach up into the platform."""

import base64
import binascii
import os

KEY_BYTES = 32  # AES-256


def decode_key(text: str) -> bytes:
    """A key as written in FIELD_ENCRYPTION_KEYS: 32 bytes, base64 (standard or url-safe)."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes, not {KEY_BYTES}")
    return raw


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()
