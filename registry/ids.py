"""Public identifiers: a type prefix and 80 random bits, opaque to the holder."""

import base64
import secrets


def new_public_id(prefix: str) -> str:
    token = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return f"{prefix}_{token}"
