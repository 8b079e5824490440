"""The one ledger writer: every credit movement goes through `append_entry`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import rfc8785
from sqlalchemy import insert
from sqlmodel import Session

from registry.ledger.models import LedgerEntry
from registry.models import table

ENTRY_FORMAT_VERSION = 1
_ENTRIES = table(LedgerEntry)
_INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes. Callers pass integers and strings only: floats never enter the log."""
    return rfc8785.dumps(value)


def append_entry(
    session: Session,
    kind: str,
    body: dict[str, Any],
    from_account_id: int | None,
    to_account_id: int | None,
) -> tuple[int, bytes]:
    """Write one entry in the caller's transaction; the sequencer gives it a leaf index later."""
    document = {"v": ENTRY_FORMAT_VERSION, "type": kind, "time": utc_timestamp(), **body}
    canonical = canonical_json(document)
    entry_id = session.connection().execute(_INSERT_ENTRY, {
        "kind": kind, "body": canonical, "from_account_id": from_account_id, "to_account_id": to_account_id,
        "created_at": datetime.now(UTC),
    }).scalar_one()
    return entry_id, canonical
