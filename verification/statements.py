"""Verification statements: canonical JSON (RFC 8785) signed with the verifier's Ed25519 key.

The verifier signs on its own side (`cir verifier sign`, or `sign_statement` from Python); the
registry only ever holds the public key. The signature covers the statement's canonical bytes,
so any re-serialisation of the same object verifies, and any change to a value does not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

STATEMENT_TYPE = "cir-verification-statement"
# 2: the statement names the project, its owner, the period, the vintages, the receiving account
# and the buffer share, so that a verifier knows exactly what it signs.
STATEMENT_VERSION = 2


class BadSignature(Exception):
    pass


def canonical_statement(statement: dict[str, Any]) -> bytes:
    return rfc8785.dumps(statement)


def statement_sha256(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_statement(statement)).hexdigest()


def key_id_of(public_key_raw: bytes) -> str:
    """16 hex digits naming a verifier key in statements: SHA-256 of the raw key, first 8 bytes."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def load_public_key(pem: str) -> bytes:
    """The raw 32 bytes of an Ed25519 public key given as PEM (SubjectPublicKeyInfo)."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError("public_key_pem is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("public_key_pem is not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    """The public half as PEM (SubjectPublicKeyInfo): what a verifier gives the registrar."""
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def raw_public_key_pem(public_key_raw: bytes) -> str:
    """The PEM (SubjectPublicKeyInfo) of a raw 32-byte Ed25519 public key, as accreditations publish it."""
    return Ed25519PublicKey.from_public_bytes(public_key_raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the key file does not hold an Ed25519 private key")
    return key


def sign_statement(statement: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    """Base64 Ed25519 signature over the statement's canonical bytes (the verifier's side)."""
    return base64.b64encode(private_key.sign(canonical_statement(statement))).decode()


def verify_statement_signature(public_key_raw: bytes, statement: dict[str, Any], signature_b64: str) -> bytes:
    """Return the signature bytes once they verify; raise BadSignature otherwise."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("the signature is not base64") from exc
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, canonical_statement(statement))
    except InvalidSignature as exc:
        raise BadSignature("the signature does not verify with the verifier's registered key") from exc
    return signature
