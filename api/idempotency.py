"""`Idempotency-Key` support: a retried write returns the first result and changes nothing.

The key is claimed with an INSERT *before* the command runs, in the command's own transaction.
Of two racing requests with one key, the second blocks on the unique index until the first
commits, then fails to insert and replays the stored response; if the first rolls back, the
second runs the command itself.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Column, LargeBinary, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from registry.errors import Conflict, InvalidRequest
from registry.models import utcnow


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id")
    key: str = Field(sa_column=Column(String(255), nullable=False))
    request_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    response_status: int | None = None
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("party_id", "key", name="idempotency_key_per_party"),)


class IdempotencyKeyReused(Conflict):
    code = "idempotency-key-reused"


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def find_response(session: Session, party_id: int, key: str, fingerprint: str) -> tuple[int, bytes] | None:
    record = session.execute(
        select(IdempotencyRecord).where(col(IdempotencyRecord.party_id) == party_id, col(IdempotencyRecord.key) == key)
    ).scalar_one_or_none()
    if record is None:
        return None
    if record.request_sha256 != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request; use a new key"
        )
    assert record.response_status is not None and record.response_body is not None
    return record.response_status, record.response_body


def claim_key(session: Session, party_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key inside a savepoint; return its row id, or None when another request has it."""
    if not 1 <= len(key) <= 255:
        raise InvalidRequest("Idempotency-Key must be 1 to 255 characters")
    try:
        with session.begin_nested():
            record = IdempotencyRecord(party_id=party_id, key=key, request_sha256=fingerprint)
            session.add(record)
            session.flush()
    except IntegrityError:
        return None
    return record.id


def store_response(session: Session, record_id: int, status: int, body: bytes) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == record_id)
        .values(response_status=status, response_body=body)
    )
