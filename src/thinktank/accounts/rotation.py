"""`thinktank keys rotate-master`: move every stored key to a new master key, resumably.

1. The new key is written to `master.key.next` (reused if a previous run was interrupted).
2. Each row is re-encrypted under it in its own transaction; a running server finds the next
   key file when it meets a row sealed with it, so nothing is unreadable at any moment.
3. Only when no row is left under the old key does `master.key.next` replace `master.key`; the old
   key is kept as `master.key.old`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from thinktank.accounts.crypto import (
    KEY_BYTES,
    MASTER_FILE,
    NEXT_FILE,
    Keyring,
    key_id,
    read_or_create_key_file,
    write_key_file,
)
from thinktank.accounts.keys import KeyStore


def prepare_next_key(key_dir: Path) -> tuple[bytes, bytes]:
    current = read_or_create_key_file(key_dir / MASTER_FILE)
    next_path = key_dir / NEXT_FILE
    if not next_path.exists():
        write_key_file(next_path, secrets.token_bytes(KEY_BYTES))
    return current, read_or_create_key_file(next_path)


async def rotate_master(store: KeyStore, *, key_dir: Path) -> int:
    current, upcoming = prepare_next_key(key_dir)
    store.keyring = Keyring(current=upcoming, others={key_id(current): current}, key_dir=key_dir)
    moved = await store.reseal_all()
    write_key_file(key_dir / (MASTER_FILE + ".old"), current)
    os.replace(key_dir / NEXT_FILE, key_dir / MASTER_FILE)
    return moved
