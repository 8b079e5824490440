"""The sequencer, signed checkpoints and proofs over the stored tree."""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, tuple_, update
from sqlmodel import Session, col

from registry import errors
from registry.db import Database
from registry.ledger import merkle
from registry.ledger.models import LedgerEntry, LogCheckpoint, MerkleNode
from registry.ledger.signing import LogSigner
from registry.ledger.verify import leaf_hash
from registry.models import Retirement, table

log = logging.getLogger(__name__)

# PostgreSQL advisory lock key: one sequencer at a time across every API worker and host.
SEQUENCER_LOCK_KEY = 0x43_49_52_4C  # "CIRL"


def tree_size(session: Session) -> int:
    """The size of the latest signed checkpoint: what proofs can be given against."""
    return int(session.execute(select(func.coalesce(func.max(col(LogCheckpoint.tree_size)), 0))).scalar_one())


def sequenced_size(session: Session) -> int:
    """How many entries have leaf indexes: the next index to give, read from the entries
    themselves so that a damaged checkpoint table cannot make the sequencer reuse an index."""
    last = session.execute(select(func.max(col(LedgerEntry.leaf_index)))).scalar_one()
    return 0 if last is None else int(last) + 1


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.execute(
        select(LogCheckpoint).order_by(col(LogCheckpoint.tree_size).desc()).limit(1)
    ).scalar_one_or_none()


class NodesMissing(Exception):
    """Some perfect subtrees are not stored: the tree asked about is larger than the log."""


def fetch_nodes(session: Session, nodes: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    if not nodes:
        return {}
    rows = session.execute(
        select(col(MerkleNode.level), col(MerkleNode.position), col(MerkleNode.hash)).where(
            tuple_(col(MerkleNode.level), col(MerkleNode.position)).in_(sorted(nodes))
        )
    ).all()
    found = {(r.level, r.position): r.hash for r in rows}
    if len(found) != len(nodes):
        raise NodesMissing(sorted(nodes - found.keys())[:5])
    return found


def has_pending_entries(session: Session) -> bool:
    return session.execute(
        select(col(LedgerEntry.id)).where(col(LedgerEntry.leaf_index).is_(None)).limit(1)
    ).first() is not None


def sequence_pending(session: Session, signer: LogSigner, batch_size: int = 5000) -> LogCheckpoint | None:
    """Give the oldest unsequenced entries the next leaf indexes and sign a checkpoint over them.

    Runs in a write transaction. On PostgreSQL it returns at once when another worker holds the
    sequencer lock; on SQLite the write transaction (BEGIN IMMEDIATE) is the lock.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and not session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK_KEY}
    ).scalar_one():
        return None
    rows = session.execute(
        select(col(LedgerEntry.id), col(LedgerEntry.body))
        .where(col(LedgerEntry.leaf_index).is_(None))
        .order_by(col(LedgerEntry.id))
        .limit(batch_size)
    ).all()
    if not rows:
        return None
    old_size = sequenced_size(session)
    frontier = fetch_nodes(session, set(merkle.root_plan(old_size))) if old_size else {}
    created = merkle.new_perfect_nodes(old_size, [leaf_hash(r.body) for r in rows], frontier)
    entries = table(LedgerEntry)  # Core table: a plain executemany, not an ORM bulk update
    session.connection().execute(
        update(entries).where(entries.c.id == bindparam("entry_id")).values(leaf_index=bindparam("index")),
        [{"entry_id": r.id, "index": old_size + i} for i, r in enumerate(rows)],
    )
    session.connection().execute(
        insert(table(MerkleNode)), [{"level": lv, "position": pos, "hash": h} for (lv, pos), h in created.items()]
    )
    new_size = old_size + len(rows)
    root = merkle.fold(merkle.root_plan(new_size), {**frontier, **created})
    # The checkpoint before this one is the tree as it stood: taken from the tree itself, not from
    # the checkpoint table, so a damaged table can neither stop the log nor hide what was lost.
    old_root = merkle.fold(merkle.root_plan(old_size), frontier) if old_size else merkle.EMPTY_ROOT
    note = signer.sign_checkpoint(new_size, root, old_size, old_root)
    checkpoint = LogCheckpoint(tree_size=new_size, root_hash=root, note=note)
    session.add(checkpoint)
    session.flush()
    return checkpoint


def sequence_all(db: Database, signer: LogSigner, batch_size: int = 5000) -> int:
    """Sequence until nothing is pending; returns the number of checkpoints written."""
    written = 0
    while True:
        with db.write() as session:
            if sequence_pending(session, signer, batch_size) is None:
                return written
        written += 1


class SequencerThread(threading.Thread):
    """Runs the sequencer every `interval_s` inside a service process.

    A failing step is retried with a doubling wait (up to `MAX_BACKOFF_S`); each distinct error
    is logged once, with its traceback, and the recovery once, so a broken database fills no disk.
    """

    MAX_BACKOFF_S = 30.0

    def __init__(self, db: Database, signer: LogSigner, interval_s: float, batch_size: int) -> None:
        super().__init__(name="cir-sequencer", daemon=True)
        self.db, self.signer, self.interval_s, self.batch_size = db, signer, interval_s, batch_size
        self.stopping = threading.Event()
        self.last_error: str | None = None

    def run(self) -> None:
        wait = self.interval_s
        while not self.stopping.wait(wait):
            try:
                self.step()
            except Exception as exc:  # keep sequencing after a transient database error
                message = f"{type(exc).__name__}: {exc}"
                if message != self.last_error:
                    log.exception("sequencer step failed; retrying with back-off")
                    self.last_error = message
                wait = min(self.MAX_BACKOFF_S, max(wait * 2, self.interval_s))
                continue
            if self.last_error is not None:
                log.warning("sequencer recovered after: %s", self.last_error)
                self.last_error = None
            wait = self.interval_s

    def step(self) -> None:
        # A cheap read first: an idle SQLite registry should not take the write lock.
        with self.db.read() as session:
            if not has_pending_entries(session):
                return
        sequence_all(self.db, self.signer, self.batch_size)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


# --- reads and proofs -------------------------------------------------------------------------


def entry_at(session: Session, leaf_index: int) -> bytes:
    query = select(col(LedgerEntry.body)).where(col(LedgerEntry.leaf_index) == leaf_index)
    body = session.execute(query).scalar_one_or_none()
    if body is None:
        raise errors.UnknownLogEntry(f"no log entry at index {leaf_index}")
    return bytes(body)


def _proof(session: Session, plans: list[merkle.RangePlan], size: int) -> list[bytes]:
    """Fold the plans' nodes, read in one query together with the root's: a root node is missing
    exactly when `size` exceeds the log, so no separate size check is needed."""
    try:
        nodes = fetch_nodes(session, merkle.nodes_of([*plans, merkle.root_plan(size)]))
    except NodesMissing:
        raise errors.InvalidRequest(
            f"tree_size {size} is larger than the log (now {tree_size(session)} entries)"
        ) from None
    return [merkle.fold(p, nodes) for p in plans]


def inclusion_proof(session: Session, leaf_index: int, size: int) -> list[bytes]:
    if size < 1 or not 0 <= leaf_index < size:
        raise errors.InvalidRequest(f"leaf index {leaf_index} is not in a tree of size {size}")
    return _proof(session, merkle.inclusion_plan(leaf_index, size), size)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    if not 1 <= old_size <= new_size:
        raise errors.InvalidRequest("old must be between 1 and new")
    return _proof(session, merkle.consistency_plan(old_size, new_size), new_size)


def b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def retirement_proof_bundle(session: Session, retirement_public_id: str) -> dict[str, Any]:
    entry_id = session.execute(
        select(col(Retirement.ledger_entry_id)).where(col(Retirement.public_id) == retirement_public_id)
    ).scalar_one_or_none()
    if entry_id is None:
        raise errors.UnknownRetirement(f"no retirement {retirement_public_id}")
    return entry_proof_bundle(session, entry_id)


def entry_proof_bundle(session: Session, entry_id: int) -> dict[str, Any]:
    """{"entry", "leaf_index", "inclusion", "checkpoint"}: all an auditor needs, with our public key."""
    row = session.execute(
        select(col(LedgerEntry.body), col(LedgerEntry.leaf_index)).where(col(LedgerEntry.id) == entry_id)
    ).first()
    if row is None:
        raise errors.UnknownLogEntry(f"no ledger entry {entry_id}")
    checkpoint = latest_checkpoint(session)
    if row.leaf_index is None or checkpoint is None or checkpoint.tree_size <= row.leaf_index:
        raise errors.NotYetInCheckpoint("the entry is not in a signed checkpoint yet; retry in a second")
    hashes = inclusion_proof(session, row.leaf_index, checkpoint.tree_size)
    return {
        "entry": bytes(row.body).decode(),
        "leaf_index": row.leaf_index,
        "inclusion": {"leaf_index": row.leaf_index, "tree_size": checkpoint.tree_size, "hashes": b64(hashes)},
        "checkpoint": checkpoint.note,
    }
