"""Secrets at rest: AES-GCM with a random nonce per encryption, and HMAC fingerprints.

The master key is 32 random bytes: `THINKTANK_MASTER_KEY` (urlsafe base64), or else the file
`master.key` in the data directory, created on first use with mode 0600. Every ciphertext names the
key it was sealed with (`v1:<key id>:<nonce+ciphertext>`), so a keyring can hold the current key and
the next one while `thinktank keys rotate-master` re-encrypts row by row, without downtime.
Fingerprints for duplicate detection are HMAC-SHA256 under a separate secret (`fingerprint.key`
or `THINKTANK_FINGERPRINT_KEY`), never a bare hash an attacker could test guesses against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from thinktank.errors import ConfigurationError
from thinktank.errors import DecryptionError as DecryptionError  # raised here; importable from here too

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_FILE = "master.key"
NEXT_FILE = "master.key.next"
FINGERPRINT_FILE = "fingerprint.key"


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"thinktank-key-id:" + key).hexdigest()[:12]


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str, *, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raise ConfigurationError(f"{source} is not urlsafe base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(f"{source} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def read_or_create_key_file(path: Path) -> bytes:
    """Read a key file, or create it with a fresh key, readable by the owner only."""
    try:
        return decode_key(path.read_text(), source=str(path))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(path.read_text(), source=str(path))  # another process won the race
    with os.fdopen(descriptor, "w") as handle:
        handle.write(encode_key(key))
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Write atomically with mode 0600 (temp file + rename), so a crash never leaves half a key."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(encode_key(key))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass
class Keyring:
    """The current master key, plus any other key that may still seal rows during a rotation."""

    current: bytes
    others: dict[str, bytes] = field(default_factory=dict)
    key_dir: Path | None = None

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def seal(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), self.current_id.encode())
        return f"v1:{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def sealed_with(self, token: str) -> str:
        return token.split(":", 2)[1] if token.count(":") >= 2 else ""

    def open(self, token: str) -> str:
        version, _, rest = token.partition(":")
        wanted, _, payload = rest.partition(":")
        if version != "v1" or not payload:
            raise DecryptionError("not a sealed secret")
        key = self._key(wanted)
        raw = base64.urlsafe_b64decode(payload.encode())
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], wanted.encode()).decode()
        except InvalidTag:
            raise DecryptionError("a sealed secret failed its integrity check") from None

    def _key(self, wanted: str) -> bytes:
        if wanted == self.current_id:
            return self.current
        if wanted not in self.others and self.key_dir is not None:
            self._reload()  # a rotation in another process may have introduced this key
        if wanted in self.others:
            return self.others[wanted]
        if wanted == self.current_id:
            return self.current
        raise DecryptionError(f"no master key {wanted} here; was the master key changed or lost?")

    def _reload(self) -> None:
        assert self.key_dir is not None
        for name in (MASTER_FILE, NEXT_FILE, MASTER_FILE + ".old"):
            path = self.key_dir / name
            if path.exists():
                key = decode_key(path.read_text(), source=str(path))
                if key != self.current:
                    self.others[key_id(key)] = key
                if name == MASTER_FILE and key != self.current:
                    # The rotation finished: the file now holds the new current key.
                    self.others[self.current_id] = self.current
                    self.current = key


def load_keyring(env: Mapping[str, str], *, key_dir: Path) -> Keyring:
    if env.get("THINKTANK_MASTER_KEY", "").strip():
        return Keyring(decode_key(env["THINKTANK_MASTER_KEY"], source="THINKTANK_MASTER_KEY"))
    keyring = Keyring(read_or_create_key_file(key_dir / MASTER_FILE), key_dir=key_dir)
    keyring._reload()
    return keyring


def load_fingerprint_secret(env: Mapping[str, str], *, key_dir: Path) -> bytes:
    if env.get("THINKTANK_FINGERPRINT_KEY", "").strip():
        return decode_key(env["THINKTANK_FINGERPRINT_KEY"], source="THINKTANK_FINGERPRINT_KEY")
    return read_or_create_key_file(key_dir / FINGERPRINT_FILE)


def fingerprint(secret: bytes, api_key: str) -> str:
    return hmac.new(secret, api_key.encode(), hashlib.sha256).hexdigest()


def last_four(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else "…"
