"""`cir audit`: trust nothing stored, recompute everything from the entries.

1. Leaf indexes run 0…n−1 without gaps and every checkpoint's size is at most n.
2. The tree recomputed from the entry bytes equals every stored node.
3. Every checkpoint's signature verifies with the registry's key, its root equals the recomputed
   root at its size, and each checkpoint is consistent with the one before it.
4. Replaying every entry from an empty registry reproduces the credit blocks table exactly:
   who holds which units of which issuance, in which status; and every issuance's quantity.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from registry.ledger import merkle
from registry.ledger.models import LedgerEntry, LogCheckpoint, MerkleNode
from registry.ledger.verify import (
    VerificationError,
    leaf_hash,
    parse_verifier_key,
    verify_checkpoint,
    verify_consistency,
)
from registry.models import Account, CreditBlock, Issuance

# What each entry type requires of the units it names, and what it leaves them as.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "transfer": (("active",), "active"),
    "buffer_contribution": (("active",), "active"),
    "retire": (("active",), "retired"),
    "cancel": (("active", "frozen"), "cancelled"),
    "freeze": (("active",), "frozen"),
    "unfreeze": (("frozen",), "active"),
}


@dataclass
class AuditReport:
    entries: int = 0
    pending: int = 0
    checkpoints: int = 0
    issuances: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Segment = list[Any]  # [first_unit, last_unit, account, status]


class UnitMap:
    """Who holds every unit of every issuance, as sorted disjoint segments."""

    def __init__(self) -> None:
        self.segments: dict[str, list[Segment]] = {}

    def issue(self, issuance: str, quantity: int, account: str) -> None:
        if issuance in self.segments:
            raise ValueError(f"issuance {issuance} issued twice")
        self.segments[issuance] = [[1, quantity, account, "active"]]

    def move(self, issuance: str, first: int, last: int, holder: str, allowed: tuple[str, ...],
             to: str, status: str) -> None:
        segs = self.segments.get(issuance)
        if segs is None:
            raise ValueError(f"units of unknown issuance {issuance}")
        starts = [s[0] for s in segs]
        i = bisect.bisect_right(starts, first) - 1
        if i < 0:
            raise ValueError(f"units {first}-{last} of {issuance} do not exist")
        unit, out = first, []
        j = i
        while unit <= last:
            if j >= len(segs) or segs[j][0] > unit or segs[j][1] < unit:
                raise ValueError(f"unit {unit} of {issuance} does not exist")
            seg = segs[j]
            if seg[2] != holder or seg[3] not in allowed:
                raise ValueError(f"unit {unit} of {issuance} is {seg[3]} in {seg[2]}, not movable by {holder}")
            unit = seg[1] + 1
            j += 1
        # Rebuild segments i…j−1 with the moved range carved out.
        replaced: list[Segment] = []
        for seg in segs[i:j]:
            if seg[0] < first:
                replaced.append([seg[0], first - 1, seg[2], seg[3]])
            replaced.append([max(seg[0], first), min(seg[1], last), to, status])
            if seg[1] > last:
                replaced.append([last + 1, seg[1], seg[2], seg[3]])
        out = segs[:i] + replaced + segs[j:]
        self.segments[issuance] = out

    def merged(self) -> dict[str, list[tuple[int, int, str, str]]]:
        return {iss: _merge([tuple(s) for s in segs]) for iss, segs in self.segments.items()}  # type: ignore[misc]


def _merge(segments: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    result: list[tuple[int, int, str, str]] = []
    for seg in sorted(segments):
        if result and result[-1][1] + 1 == seg[0] and result[-1][2:] == seg[2:]:
            result[-1] = (result[-1][0], seg[1], seg[2], seg[3])
        else:
            result.append(seg)
    return result


def _check_tree(session: Session, leaves: list[bytes], report: AuditReport) -> dict[merkle.Node, bytes]:
    computed = merkle.new_perfect_nodes(0, leaves, {})
    stored = {
        (r.level, r.position): bytes(r.hash)
        for r in session.execute(select(col(MerkleNode.level), col(MerkleNode.position), col(MerkleNode.hash)))
    }
    for node in sorted(stored.keys() | computed.keys()):
        if stored.get(node) != computed.get(node):
            what = "missing" if node not in stored else "extra" if node not in computed else "wrong"
            report.problems.append(f"stored tree node {node} is {what}")
            if len(report.problems) > 20:
                break
    return computed


def _check_checkpoints(session: Session, verifier_key: str, size: int, nodes: dict[merkle.Node, bytes],
                       report: AuditReport) -> None:
    key = parse_verifier_key(verifier_key)
    previous: tuple[int, bytes] | None = None
    for cp in session.execute(select(LogCheckpoint).order_by(col(LogCheckpoint.tree_size))).scalars():
        report.checkpoints += 1
        try:
            parsed = verify_checkpoint(cp.note, key)
        except VerificationError as exc:
            report.problems.append(f"checkpoint of size {cp.tree_size}: {exc}")
            continue
        if parsed.tree_size != cp.tree_size or parsed.root_hash != bytes(cp.root_hash):
            report.problems.append(f"checkpoint of size {cp.tree_size}: stored columns differ from the signed note")
        if parsed.tree_size > size:
            report.problems.append(f"checkpoint of size {parsed.tree_size} covers more than the {size} entries stored")
            continue
        if merkle.fold(merkle.root_plan(parsed.tree_size), nodes) != parsed.root_hash:
            report.problems.append(f"checkpoint of size {parsed.tree_size}: root differs from the recomputed tree")
            continue
        if previous is not None:
            proof = [merkle.fold(p, nodes) for p in merkle.consistency_plan(previous[0], parsed.tree_size)]
            try:
                verify_consistency(previous[0], parsed.tree_size, previous[1], parsed.root_hash, proof)
            except VerificationError as exc:
                report.problems.append(f"checkpoints {previous[0]} → {parsed.tree_size}: {exc}")
        previous = (parsed.tree_size, parsed.root_hash)


def _replay(session: Session, bodies: list[bytes], report: AuditReport) -> None:
    units = UnitMap()
    issued: dict[str, int] = {}
    for position, body in enumerate(bodies):
        try:
            entry = json.loads(body)
            kind = entry["type"]
            if kind == "issue":
                units.issue(entry["id"], entry["quantity_kg"], entry["to"])
                issued[entry["id"]] = entry["quantity_kg"]
            elif kind in TRANSITIONS:
                allowed, status = TRANSITIONS[kind]
                for u in entry["units"]:
                    units.move(u["issuance"], u["first_unit"], u["last_unit"], entry["from"], allowed,
                               entry["to"], status)
            else:
                raise ValueError(f"unknown entry type {kind!r}")
            listed = sum(u["last_unit"] - u["first_unit"] + 1 for u in entry["units"])
            if kind != "issue" and listed != entry["quantity_kg"]:
                raise ValueError("quantity_kg differs from the units listed")
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"replaying entry #{position}: {exc}")
            return
    accounts = dict(session.execute(select(col(Account.id), col(Account.public_id))).all())
    issuance_rows = select(col(Issuance.id), col(Issuance.public_id), col(Issuance.quantity_kg))
    issuances = {r.id: r for r in session.execute(issuance_rows)}
    report.issuances = len(issuances)
    for row in issuances.values():
        if issued.get(row.public_id) != row.quantity_kg:
            report.problems.append(f"issuance {row.public_id}: {row.quantity_kg} kg stored, "
                                   f"{issued.get(row.public_id)} kg in the log")
    for public_id in issued.keys() - {r.public_id for r in issuances.values()}:
        report.problems.append(f"issuance {public_id} is in the log but not in the registry")
    stored: dict[str, list[tuple[int, int, str, str]]] = {}
    block_rows = select(col(CreditBlock.issuance_id), col(CreditBlock.first_unit), col(CreditBlock.last_unit),
                        col(CreditBlock.account_id), col(CreditBlock.status))
    for b in session.execute(block_rows):
        iss = issuances[b.issuance_id].public_id if b.issuance_id in issuances else f"#{b.issuance_id}"
        stored.setdefault(iss, []).append((b.first_unit, b.last_unit, accounts.get(b.account_id, "?"), b.status))
    replayed = units.merged()
    for iss in sorted(stored.keys() | replayed.keys()):
        if _merge(stored.get(iss, [])) != replayed.get(iss, []):
            report.problems.append(f"issuance {iss}: credit blocks differ from a replay of the log")


def audit(session: Session, verifier_key: str) -> AuditReport:
    report = AuditReport()
    rows = session.execute(
        select(col(LedgerEntry.leaf_index), col(LedgerEntry.body)).order_by(
            col(LedgerEntry.leaf_index).is_(None), col(LedgerEntry.leaf_index), col(LedgerEntry.id)
        )
    ).all()
    sequenced = [bytes(r.body) for r in rows if r.leaf_index is not None]
    indexes = [r.leaf_index for r in rows if r.leaf_index is not None]
    report.entries, report.pending = len(sequenced), len(rows) - len(sequenced)
    if indexes != list(range(len(indexes))):
        missing = sorted(set(range(max(indexes, default=-1) + 1)) - set(indexes))
        report.problems.append(f"leaf indexes are not 0…{len(indexes) - 1}: missing {missing[:10]}")
    nodes = _check_tree(session, [leaf_hash(b) for b in sequenced], report)
    _check_checkpoints(session, verifier_key, len(sequenced), nodes, report)
    _replay(session, [bytes(r.body) for r in rows], report)
    return report
