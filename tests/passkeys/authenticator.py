"""A software authenticator for the server tests: it answers the portal's WebAuthn options as a
browser and a device would (attestation "none", ES256), and can be made to misbehave: another
origin, an old sign counter, an answer sent twice."""

import hashlib
import json
import secrets
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40


class Authenticator:
    def __init__(self, origin: str = "http://portal.test", rp_id: str = "portal.test"):
        self.origin, self.rp_id = origin, rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.counter = 0
        self.user_handle = b""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + attested

    def create(self, options: dict, origin: str | None = None) -> dict:
        """The answer to navigator.credentials.create() with the server's ``options``."""
        self.user_handle = _bytes(options["user"]["id"])
        attested = (
            bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        ) + self._cose_key()
        auth_data = self._auth_data(UP | UV | AT, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return self._credential(
            clientDataJSON=bytes_to_base64url(client_data),
            attestationObject=bytes_to_base64url(attestation),
            transports=["internal"],
        )

    def get(self, options: dict, origin: str | None = None, counter: int | None = None) -> dict:
        """The answer to navigator.credentials.get(): the counter moves on unless given."""
        self.counter = self.counter + 1 if counter is None else counter
        auth_data = self._auth_data(UP | UV)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._credential(
            clientDataJSON=bytes_to_base64url(client_data),
            authenticatorData=bytes_to_base64url(auth_data),
            signature=bytes_to_base64url(signature),
            userHandle=bytes_to_base64url(self.user_handle),
        )

    def _credential(self, **response) -> dict:
        """A PublicKeyCredential as the browser serialises it (toJSON)."""
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": response,
        }


def _bytes(text: str) -> bytes:
    from webauthn.helpers import base64url_to_bytes

    return base64url_to_bytes(text)
