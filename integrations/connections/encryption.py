"""Secrets at rest: AES-256-GCM with keys from FIELD_ENCRYPTION_KEYS.

The first key encrypts; every listed key can decrypt, so a new key is put first, the
`rotate_encryption_key` command re-encrypts every row, and the old key is then dropped.
A stored value reads `aesgcm1:<key id>:<base64(nonce | ciphertext | tag)>`. The field's
identity (`app.model.field`) is bound in as associated data, so a ciphertext copied into
another column does not decrypt. Errors never include a ciphertext or a key.
"""

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

from config.keys import KEY_BYTES, decode_key, new_key  # noqa: F401 - the keys' text form

PREFIX = "aesgcm1"
NONCE_BYTES = 12  # the GCM standard nonce


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def key_id(key: bytes) -> str:
    # Names the key in each value, so decryption goes straight to it; reveals nothing of it.
    return hashlib.sha256(b"hub-key-id:" + key).hexdigest()[:8]


@lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...]) -> tuple[tuple[str, AESGCM], ...]:
    return tuple((key_id(raw), AESGCM(raw)) for raw in map(decode_key, keys))


def keyring() -> tuple[tuple[str, AESGCM], ...]:
    return _keyring(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str, *, context: str) -> str:
    kid, aead = keyring()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{kid}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(stored: str, *, context: str) -> str:
    try:
        prefix, kid, payload = stored.split(":", 2)
        blob = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise DecryptionError(f"{context}: the stored value is not an encrypted secret") from None
    if prefix != PREFIX or len(blob) <= NONCE_BYTES:
        raise DecryptionError(f"{context}: the stored value is not an encrypted secret")
    candidates = sorted(keyring(), key=lambda entry: entry[0] != kid)  # the named key first
    for _, aead in candidates:
        try:
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
        except InvalidTag:
            continue
    raise DecryptionError(
        f"{context}: no key in FIELD_ENCRYPTION_KEYS decrypts this value (key {kid}); "
        "add the key it was written with, then run rotate_encryption_key"
    )


def current_key_id() -> str:
    return keyring()[0][0]


class EncryptedTextField(models.TextField):
    """A text column stored encrypted. Empty stays empty (so "no token" is visible without
    decrypting); values cannot be searched or compared in the database."""

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.context = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value, context=self.context)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value, context=self.context)


def encrypted_fields(model: type[models.Model]) -> list[EncryptedTextField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
