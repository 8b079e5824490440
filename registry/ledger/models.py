"""Ledger tables: entries (the leaves), stored perfect-subtree hashes, signed checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, String, text
from sqlmodel import Field, SQLModel

from registry.models import big_int, utcnow


class LedgerEntry(SQLModel, table=True):
    """One credit movement. `body` is its RFC 8785 canonical JSON: the exact bytes of the leaf.

    Writers insert entries with no leaf index; the sequencer assigns indexes in batches, so a
    writer never waits for a log-wide lock.
    """

    __tablename__ = "ledger_entry"

    id: int | None = Field(default=None, sa_column=big_int(primary_key=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Accounts the entry touches, for account history queries; the body is authoritative.
    from_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    to_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    leaf_index: int | None = Field(default=None, sa_column=big_int(unique=True))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        Index(
            "ix_ledger_entry_unsequenced",
            "id",
            postgresql_where=text("leaf_index IS NULL"),
            sqlite_where=text("leaf_index IS NULL"),
        ),
    )


class MerkleNode(SQLModel, table=True):
    """Hash of the perfect subtree covering leaves [position·2^level, (position+1)·2^level)."""

    __tablename__ = "merkle_node"

    level: int = Field(primary_key=True)
    position: int = Field(sa_column=big_int(primary_key=True))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogCheckpoint(SQLModel, table=True):
    __tablename__ = "log_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(sa_column=big_int(unique=True, nullable=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str  # the signed note, exactly as published
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("tree_size > 0", name="checkpoint_tree_size_positive"),)


class LogIdentity(SQLModel, table=True):
    """Which log this database is: its origin and the key that signs it, recorded at bootstrap.

    Starting with another key file is refused, so that a misplaced file can never silently start
    a second history. (It is no defence against someone who can write the database: auditors bring
    their own copy of the key, `cir audit --key`.)"""

    __tablename__ = "log_identity"

    id: int = Field(default=1, primary_key=True)
    origin: str
    key_id: str = Field(sa_column=Column(String(8), nullable=False))
    verifier_key: str
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("id = 1", name="log_identity_single_row"),)
