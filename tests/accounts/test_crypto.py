from __future__ import annotations

import stat
from pathlib import Path

import pytest

from thinktank.accounts.crypto import (
    DecryptionError,
    Keyring,
    encode_key,
    fingerprint,
    load_fingerprint_secret,
    load_keyring,
)

SECRET = "sk-test-abcdefghijklmnop1234"


def test_seal_and_open_with_a_fresh_nonce_each_time(tmp_path: Path) -> None:
    keyring = load_keyring({}, key_dir=tmp_path)
    first, second = keyring.seal(SECRET), keyring.seal(SECRET)
    assert first != second, "a random nonce per encryption"
    assert SECRET not in first
    assert keyring.open(first) == keyring.open(second) == SECRET


def test_the_key_file_is_created_once_and_readable_by_the_owner_only(tmp_path: Path) -> None:
    first = load_keyring({}, key_dir=tmp_path)
    mode = stat.S_IMODE((tmp_path / "master.key").stat().st_mode)
    assert mode == 0o600
    assert load_keyring({}, key_dir=tmp_path).current == first.current


def test_tampering_and_a_wrong_key_are_refused(tmp_path: Path) -> None:
    keyring = load_keyring({}, key_dir=tmp_path)
    sealed = keyring.seal(SECRET)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(DecryptionError):
        keyring.open(tampered)
    with pytest.raises(DecryptionError, match="no master key"):
        Keyring(bytes(32)).open(sealed)


def test_the_environment_can_supply_the_master_key(tmp_path: Path) -> None:
    key = bytes(range(32))
    keyring = load_keyring({"THINKTANK_MASTER_KEY": encode_key(key)}, key_dir=tmp_path)
    assert keyring.current == key
    assert not (tmp_path / "master.key").exists()


def test_fingerprints_are_keyed_hmacs_not_bare_hashes(tmp_path: Path) -> None:
    import hashlib

    secret = load_fingerprint_secret({}, key_dir=tmp_path)
    other = load_fingerprint_secret({}, key_dir=tmp_path / "elsewhere")
    assert fingerprint(secret, SECRET) == fingerprint(secret, SECRET)
    assert fingerprint(secret, SECRET) != fingerprint(other, SECRET)
    assert fingerprint(secret, SECRET) != hashlib.sha256(SECRET.encode()).hexdigest()
    assert load_keyring({}, key_dir=tmp_path).current != secret, "a separate secret from the master key"
