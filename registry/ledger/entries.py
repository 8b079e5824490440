"""The ledger's vocabulary, defined once, and its one writer.

Every credit movement is an entry of one `EntryType`. `MOVEMENT_RULES` says, for each type that
moves existing units, which statuses the units must have and which status they end in: the
commands in `registry.credits` move units by these rules, and `registry.ledger.audit` replays
the log by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
import rfc8785
from sqlalchemy import insert
from sqlmodel import Session

from registry.db import copies, copy_rows, next_ids
from registry.ledger.models import LedgerEntry
from registry.models import BlockStatus, table

ENTRY_FORMAT_VERSION = 1


class EntryType(StrEnum):
    OPEN_ACCOUNT = "open_account"  # a holding account and the party that holds it; moves no units
    ISSUE = "issue"
    TRANSFER = "transfer"
    BUFFER_CONTRIBUTION = "buffer_contribution"
    RETIRE = "retire"
    CANCEL = "cancel"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    # Units held for a trade, an offer or a pledge (trading/), released, or delivered to the
    # counterparty (a trade's settlement, a pledge's enforcement): each names its `lock`.
    LOCK = "lock"
    UNLOCK = "unlock"
    DELIVER = "deliver"
    # A net-zero certificate (netzero/) and its revocation: they move no units; the certificate
    # commits to the inventory statement's hash and the leaf hashes of the retirements behind it.
    NET_ZERO_CERTIFICATE = "net_zero_certificate"
    NET_ZERO_CERTIFICATE_REVOKED = "certificate_revocation"  # the kind column holds 24 characters


# Entry types that move no units: the replay of balances passes over them.
RECORD_ONLY_ENTRY_TYPES = frozenset({EntryType.NET_ZERO_CERTIFICATE, EntryType.NET_ZERO_CERTIFICATE_REVOKED})


@dataclass(frozen=True)
class MovementRule:
    from_statuses: tuple[BlockStatus, ...]
    to_status: BlockStatus
    id_prefix: str  # of the command's public id, which the entry carries as `id`


MOVEMENT_RULES: dict[EntryType, MovementRule] = {
    EntryType.TRANSFER: MovementRule((BlockStatus.ACTIVE,), BlockStatus.ACTIVE, "trf"),
    EntryType.BUFFER_CONTRIBUTION: MovementRule((BlockStatus.ACTIVE,), BlockStatus.ACTIVE, "trf"),
    EntryType.RETIRE: MovementRule((BlockStatus.ACTIVE,), BlockStatus.RETIRED, "ret"),
    EntryType.CANCEL: MovementRule((BlockStatus.ACTIVE, BlockStatus.FROZEN), BlockStatus.CANCELLED, "cnl"),
    EntryType.FREEZE: MovementRule((BlockStatus.ACTIVE,), BlockStatus.FROZEN, "frz"),
    EntryType.UNFREEZE: MovementRule((BlockStatus.FROZEN,), BlockStatus.ACTIVE, "ufz"),
    EntryType.LOCK: MovementRule((BlockStatus.ACTIVE,), BlockStatus.LOCKED, "lck"),
    EntryType.UNLOCK: MovementRule((BlockStatus.LOCKED,), BlockStatus.ACTIVE, "ulk"),
    EntryType.DELIVER: MovementRule((BlockStatus.LOCKED,), BlockStatus.ACTIVE, "dlv"),
}

_ENTRIES = table(LedgerEntry)
# Entries in one statement, their ids returned in the order given (SQLAlchemy's insertmanyvalues).
_INSERT_ENTRIES = insert(_ENTRIES).returning(_ENTRIES.c.id, sort_by_parameter_order=True)


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# JSON's exactly representable integers: RFC 8785 writes numbers as IEEE 754 doubles.
MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes. Callers pass integers and strings only: floats never enter the log.

    For such a document (strings, ASCII keys, integers JSON represents exactly, booleans, null), JCS is
    keys sorted, no whitespace and the shortest string escapes, which is exactly what orjson writes with
    sorted keys, some 50 times faster than the pure-Python `rfc8785` (a ledger entry: about 1 µs instead of
    65 µs). Anything else (a float, a non-ASCII key, whose JCS order is by UTF-16 code units, a larger
    integer) goes to `rfc8785`. tests/test_ledger_properties.py checks that the two agree."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # e.g. a lone surrogate: let rfc8785 say what is wrong
            pass
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(type(key) is str and key.isascii() and _plain(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return False


@dataclass(frozen=True)
class NewEntry:
    kind: EntryType
    body: dict[str, Any]
    from_account_id: int | None
    to_account_id: int | None


def append_entry(session: Session, kind: EntryType, body: dict[str, Any], from_account_id: int | None,
                 to_account_id: int | None) -> tuple[int, bytes]:
    """Write one entry in the caller's transaction; the sequencer gives it a leaf index later."""
    return append_entries(session, [NewEntry(kind, body, from_account_id, to_account_id)])[0]


def append_entries(session: Session, entries: list[NewEntry]) -> list[tuple[int, bytes]]:
    """Write entries in the caller's transaction, in the order given, in one go (one INSERT; a COPY on
    PostgreSQL for a large batch): their ids and canonical bytes."""
    if not entries:
        return []
    now, created_at = utc_timestamp(), datetime.now(UTC)
    documents = [canonical_json({"v": ENTRY_FORMAT_VERSION, "type": e.kind.value, "time": now, **e.body})
                 for e in entries]
    connection = session.connection()
    if copies(connection, len(entries)):
        ids = next_ids(connection, "ledger_entry", len(entries))
        copy_rows(connection, "ledger_entry", ("id", "kind", "body", "from_account_id", "to_account_id", "created_at"),
                  ((entry_id, e.kind.value, document, e.from_account_id, e.to_account_id, created_at)
                   for entry_id, e, document in zip(ids, entries, documents, strict=True)))
    else:
        ids = list(connection.execute(_INSERT_ENTRIES, [
            {"kind": e.kind.value, "body": document, "from_account_id": e.from_account_id,
             "to_account_id": e.to_account_id, "created_at": created_at}
            for e, document in zip(entries, documents, strict=True)]).scalars())
    return list(zip(ids, documents, strict=True))
