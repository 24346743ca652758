"""Encryption of personal data at rest, and the keyed hash that finds a subject.

A copy of the database alone must reveal no address: every personal field is stored as
AES-256-GCM ciphertext, and subjects are looked up by HMAC-SHA-256 of the normalised address
under a separate key. Nothing outside the core sees ciphertext: models declare their personal
columns as ``Encrypted`` and read and write plain strings.
"""

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

_LEGACY = b"\x01"  # version byte, nonce, ciphertext: under the current key only
_VERSION = b"\x02"  # version byte, key id, nonce, ciphertext: any known key
# version byte, key reference, nonce, ciphertext: under one person's own key, kept in the key
# store (portal.core.kernel.subject_keys); once that key is deleted, nothing decrypts it.
_PERSONAL = b"\x03"
_REF = 16
_NONCE = 12
_KEY_ID = 4


def decode_key(value: str, name: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} is not valid URL-safe base64") from error
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, not {len(key)}")
    return key


class _DataKey:
    def __init__(self, raw: bytes):
        self.id = hashlib.sha256(raw).digest()[:_KEY_ID]
        self.aead = AESGCM(raw)


class Keys:
    """The data keys (AES-GCM: the current one and older ones still readable during a
    rotation) and the hash key (HMAC) of one installation."""

    def __init__(self, data_key: str, hash_key: str, old_data_keys: list[str] = ()):
        self.current = _DataKey(decode_key(data_key, "PORTAL_DATA_KEY"))
        olds = [_DataKey(decode_key(k, "PORTAL_OLD_DATA_KEYS")) for k in old_data_keys if k]
        self._by_id = {key.id: key for key in (*olds, self.current)}
        self._hash_key = decode_key(hash_key, "PORTAL_HASH_KEY")
        self._hmac = hmac.new(self._hash_key, digestmod=hashlib.sha256)

    def encrypt(self, plaintext: str) -> bytes:
        return self.encrypt_bytes(plaintext.encode())

    def encrypt_bytes(self, plaintext: bytes, context: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE)
        header = _VERSION + self.current.id
        return header + nonce + self.current.aead.encrypt(nonce, plaintext, header + context)

    def decrypt_bytes(self, blob: bytes, context: bytes = b"") -> bytes:
        if blob[:1] != _VERSION:
            raise ValueError("unknown ciphertext format")
        header, rest = blob[: 1 + _KEY_ID], blob[1 + _KEY_ID :]
        key = self._by_id.get(header[1:])
        if key is None:
            raise ValueError("data encrypted under a key that is not configured")
        return key.aead.decrypt(rest[:_NONCE], rest[_NONCE:], header + context)

    def decrypt(self, blob: bytes) -> str:
        if blob[:1] == _PERSONAL:
            return _open_personal(blob)
        if blob[:1] == _LEGACY:
            nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
            return self.current.aead.decrypt(nonce, body, _LEGACY).decode()
        if blob[:1] != _VERSION:
            raise ValueError("unknown ciphertext format")
        header, rest = blob[: 1 + _KEY_ID], blob[1 + _KEY_ID :]
        key = self._by_id.get(header[1:])
        if key is None:
            raise ValueError("data encrypted under a key that is not configured")
        return key.aead.decrypt(rest[:_NONCE], rest[_NONCE:], header).decode()

    def is_current(self, blob: bytes) -> bool:
        # A person's own key is not the data key: only its wrapping is re-encrypted on rotation.
        return blob[:1] == _PERSONAL or blob[: 1 + _KEY_ID] == _VERSION + self.current.id

    def hash_check(self) -> str:
        """A value that tells whether the hash key is the one data was written under."""
        return self.keyed_hash("portal:hash-key-check")

    def keyed_digest(self, value: bytes) -> str:
        """HMAC-SHA-256 of raw bytes under the hash key, in hex."""
        mac = self._hmac.copy()
        mac.update(value)
        return mac.hexdigest()

    def keyed_hash(self, value: str) -> str:
        # An audience of 10,000 addresses is hashed per request: copying an HMAC whose key is
        # already mixed in costs two thirds of starting afresh (11 against 17 ms here).
        mac = self._hmac.copy()
        mac.update(value.encode())
        return mac.hexdigest()


def keys() -> Keys:
    return current_app.extensions["portal.keys"]


class KeyMissing(LookupError):
    """The person's key is not in the key store: they were erased (or the store is not the
    one that goes with this data)."""


class Sealed(bytes):
    """Ciphertext made for one person (``seal``): written to the column as it is."""


def seal_personal(ref: str, aead: AESGCM, plaintext: str) -> Sealed:
    """``plaintext`` under the person's own key ``aead``, named by its reference ``ref``."""
    nonce = os.urandom(_NONCE)
    header = _PERSONAL + bytes.fromhex(ref)
    return Sealed(header + nonce + aead.encrypt(nonce, plaintext.encode(), header))


def personal_ref(blob: bytes) -> str | None:
    """The key reference of a value sealed under a person's own key, else None."""
    return blob[1 : 1 + _REF].hex() if blob[:1] == _PERSONAL else None


def _open_personal(blob: bytes) -> str:
    from portal.core.kernel import subject_keys

    return open_personal(subject_keys.store().aead(blob[1 : 1 + _REF].hex()), blob)


def open_personal(aead: AESGCM, blob: bytes) -> str:
    """A value sealed under a person's own key (``personal_ref(blob)`` names it), opened with
    that key, ``aead``, already in hand."""
    header, rest = blob[: 1 + _REF], blob[1 + _REF :]
    return aead.decrypt(rest[:_NONCE], rest[_NONCE:], header).decode()


class Encrypted(TypeDecorator):
    """A text column stored as AES-GCM ciphertext; Python sees ``str`` (or None).

    A ``Sealed`` value (made under a person's own key) is stored as it is; a ``str`` is
    encrypted under the portal's data key.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, Sealed):
            return bytes(value)
        return keys().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return keys().decrypt(bytes(value))
        except KeyMissing:
            # What is left of an erased person whose rows outlived their key (a restored
            # backup, or a crash between the key store and the data): it reads as gone, and
            # `flask erasures reconcile` removes it.
            return None
