"""The instance's seal key (Ed25519): created on first use in the instance folder, 0600.

Every export's manifest is sealed with it (`domain.manifest`). Whoever verifies an export
compares the key's fingerprint, shown on every declaration page and printed by
``declaration export``, with the one in the manifest's seal. Losing the file means new
exports carry a new fingerprint; the old ones stay verifiable with the key they name.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from declaration.domain import manifest

#: The key's file in the instance folder (PKCS#8 PEM, unencrypted, readable by the owner).
FILE_NAME: Final = "seal_ed25519.pem"


def key_path(instance_path: Path) -> Path:
    return instance_path / FILE_NAME


def load_or_create(instance_path: Path) -> Ed25519PrivateKey:
    """Return the instance's seal key, creating it (mode 0600) on first use.

    Two processes creating it at once: the one that loses the race reads the winner's.
    """
    path = key_path(instance_path)
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        # Written whole under a temporary name, then linked into place: a reader never
        # sees half a key, and of two processes creating it only one key wins.
        temporary = instance_path / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass
        else:
            return key
        finally:
            temporary.unlink(missing_ok=True)
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} holds no Ed25519 private key")
    return loaded


def fingerprint(instance_path: Path) -> str:
    """Return the fingerprint (hex SHA-256 of the raw public key) of the instance's key."""
    key = load_or_create(instance_path)
    return manifest.fingerprint(manifest.raw_public_key(key.public_key()))
