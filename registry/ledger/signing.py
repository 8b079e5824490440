"""The registry's Ed25519 log key: loading, creation on purpose, signed checkpoints."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.ledger.verify import (
    ED25519_SIGNATURE_TYPE,
    PREVIOUS_CHECKPOINT_PREFIX,
    SIGNATURE_LINE_PREFIX,
    ed25519_key_id,
)


class LogSigner:
    """Signs checkpoints as a C2SP signed note. The private key never leaves this object."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not name or any(c.isspace() for c in name) or "+" in name:
            raise ValueError("a signed-note key name must be non-empty, without spaces or '+'")
        self.name = name
        self._private_key = private_key
        self.public_key_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = ed25519_key_id(name, self.public_key_raw)

    @property
    def verifier_key(self) -> str:
        """`<name>+<hex key id>+<base64(0x01 || public key)>`, the string auditors pin."""
        key = base64.b64encode(ED25519_SIGNATURE_TYPE + self.public_key_raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{key}"

    def sign_note(self, text: str) -> str:
        if not text.endswith("\n"):
            raise ValueError("note text must end with a newline")
        signature = self.key_id + self._private_key.sign(text.encode())
        return f"{text}\n{SIGNATURE_LINE_PREFIX}{self.name} {base64.b64encode(signature).decode()}\n"

    def sign_checkpoint(self, tree_size: int, root_hash: bytes, previous_size: int, previous_root: bytes) -> str:
        """A C2SP checkpoint with one extension line naming the checkpoint before it, so that the
        signed checkpoints form a chain: one deleted from the middle leaves a visible gap."""
        body = (f"{self.name}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"
                f"{PREVIOUS_CHECKPOINT_PREFIX}{previous_size} {base64.b64encode(previous_root).decode()}\n")
        return self.sign_note(body)

    def __repr__(self) -> str:  # never print key material
        return f"LogSigner({self.verifier_key})"


def write_private_key(path: Path, key: Ed25519PrivateKey, replace: bool = False) -> None:
    """Write a key as PKCS#8 PEM readable by its owner only; refuse to overwrite unless told to."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


class LogKeyMissing(Exception):
    """No key file: the registry never makes a log key except at bootstrap or when told to."""


def load_signer(name: str, key_file: Path) -> LogSigner:
    """The log key from its PKCS#8 PEM file; never creates one."""
    if not key_file.exists():
        raise LogKeyMissing(
            f"no log signing key at {key_file}: `cir bootstrap` makes one for a new registry, "
            "`cir keys log --create` on purpose; an existing registry needs its own key restored")
    private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{key_file} does not hold an Ed25519 private key")
    return LogSigner(name, private_key)


def create_key_file(key_file: Path) -> None:
    """A new Ed25519 log key, written mode 0600; refuses to overwrite one."""
    if key_file.exists():
        raise FileExistsError(f"{key_file} already holds a key; a log key is never replaced")
    write_private_key(key_file, Ed25519PrivateKey.generate())
