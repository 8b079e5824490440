"""`cir audit`: trust nothing stored, recompute everything from the entries.

What it trusts: the verifier key it is given (an auditor brings its own copy, `--key`) and,
optionally, a checkpoint the auditor saved earlier (`--since`). Nothing else.

1. Leaf indexes run 0…n−1 without gaps.
2. The tree recomputed from the entry bytes equals every stored node.
3. Every checkpoint's signature verifies with the key and names the key's log; its root equals the
   recomputed root at its size; each names the one before it (`previous`), back to the empty tree,
   so none is missing; consecutive checkpoints are consistent; the latest covers every entry with
   a leaf index. A saved checkpoint must be one the recomputed log still extends.
4. Replaying every entry from an empty registry reproduces the credit blocks exactly (holder,
   status, which retirement), every issuance, every retirement's public record, the project facts
   each issuance states, and who holds each account.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from registry.ledger import merkle
from registry.ledger.entries import MOVEMENT_RULES, RECORD_ONLY_ENTRY_TYPES, EntryType
from registry.ledger.models import LedgerEntry, LogCheckpoint, MerkleNode
from registry.ledger.verify import (
    Checkpoint,
    VerificationError,
    VerifierKey,
    leaf_hash,
    parse_verifier_key,
    verify_checkpoint,
    verify_consistency,
)
from registry.models import Account, AccountKind, CreditBlock, Issuance, Party, Project, Retirement

MAX_PROBLEMS_PER_CHECK = 20


@dataclass
class AuditReport:
    entries: int = 0
    pending: int = 0
    checkpoints: int = 0
    issuances: int = 0
    retirements: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


Segment = list[Any]  # [first_unit, last_unit, account, status, retirement or ""]


class UnitMap:
    """Who holds every unit of every issuance, as sorted disjoint segments."""

    def __init__(self) -> None:
        self.segments: dict[str, list[Segment]] = {}

    def issue(self, issuance: str, quantity: int, account: str) -> None:
        if issuance in self.segments:
            raise ValueError(f"issuance {issuance} issued twice")
        self.segments[issuance] = [[1, quantity, account, "active", ""]]

    def move(self, issuance: str, first: int, last: int, holder: str, allowed: tuple[str, ...],
             to: str, status: str, retirement: str) -> None:
        segs = self.segments.get(issuance)
        if segs is None:
            raise ValueError(f"units of unknown issuance {issuance}")
        starts = [s[0] for s in segs]
        i = bisect.bisect_right(starts, first) - 1
        if i < 0:
            raise ValueError(f"units {first}-{last} of {issuance} do not exist")
        unit = first
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
                replaced.append([seg[0], first - 1, *seg[2:]])
            replaced.append([max(seg[0], first), min(seg[1], last), to, status, retirement])
            if seg[1] > last:
                replaced.append([last + 1, seg[1], *seg[2:]])
        self.segments[issuance] = segs[:i] + replaced + segs[j:]

    def merged(self) -> dict[str, list[tuple[Any, ...]]]:
        return {iss: _merge([tuple(s) for s in segs]) for iss, segs in self.segments.items()}


def _merge(segments: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    result: list[tuple[Any, ...]] = []
    for seg in sorted(segments):
        if result and result[-1][1] + 1 == seg[0] and result[-1][2:] == seg[2:]:
            result[-1] = (result[-1][0], seg[1], *seg[2:])
        else:
            result.append(seg)
    return result


class _Problems:
    """Collects one check's problems, at most MAX_PROBLEMS_PER_CHECK of them."""

    def __init__(self, report: AuditReport) -> None:
        self.report, self.count = report, 0

    def add(self, problem: str) -> None:
        self.count += 1
        if self.count <= MAX_PROBLEMS_PER_CHECK:
            self.report.problems.append(problem)
        elif self.count == MAX_PROBLEMS_PER_CHECK + 1:
            self.report.problems.append("… and more of the same kind")


# --- the tree and its checkpoints -----------------------------------------------------------------


def _check_tree(session: Session, leaves: list[bytes], report: AuditReport) -> dict[merkle.Node, bytes]:
    computed = merkle.new_perfect_nodes(0, leaves, {})
    stored = {
        (r.level, r.position): bytes(r.hash)
        for r in session.execute(select(col(MerkleNode.level), col(MerkleNode.position), col(MerkleNode.hash)))
    }
    problems = _Problems(report)
    for node in sorted(stored.keys() | computed.keys()):
        if stored.get(node) != computed.get(node):
            what = "missing" if node not in stored else "extra" if node not in computed else "wrong"
            problems.add(f"stored tree node {node} is {what}")
    return computed


def _root_at(size: int, nodes: dict[merkle.Node, bytes]) -> bytes:
    return merkle.EMPTY_ROOT if size == 0 else merkle.fold(merkle.root_plan(size), nodes)


def _check_checkpoints(session: Session, key: VerifierKey, size: int, nodes: dict[merkle.Node, bytes],
                       report: AuditReport) -> None:
    problems = _Problems(report)
    previous = (0, merkle.EMPTY_ROOT)  # every chain starts at the empty tree
    for cp in session.execute(select(LogCheckpoint).order_by(col(LogCheckpoint.tree_size))).scalars():
        report.checkpoints += 1
        try:
            parsed = verify_checkpoint(cp.note, key)
        except VerificationError as exc:
            problems.add(f"checkpoint of size {cp.tree_size}: {exc}")
            continue
        if parsed.origin != key.name:
            problems.add(f"checkpoint of size {parsed.tree_size} names the log {parsed.origin!r}, not {key.name!r}")
        if parsed.tree_size != cp.tree_size or parsed.root_hash != bytes(cp.root_hash):
            problems.add(f"checkpoint of size {cp.tree_size}: stored columns differ from the signed note")
        if parsed.tree_size > size:
            problems.add(f"checkpoint of size {parsed.tree_size} covers more than the {size} entries stored")
            continue
        if _root_at(parsed.tree_size, nodes) != parsed.root_hash:
            problems.add(f"checkpoint of size {parsed.tree_size}: root differs from the recomputed tree")
            continue
        if parsed.previous != previous:
            named = f"size {parsed.previous[0]}" if parsed.previous else "no checkpoint"
            problems.add(f"checkpoint of size {parsed.tree_size} follows {named}, but the checkpoint before it "
                         f"is of size {previous[0]}: the chain of checkpoints has a gap")
        _check_consistent(previous, parsed, nodes, problems)
        previous = (parsed.tree_size, parsed.root_hash)
    if previous[0] != size:
        problems.add(f"{size - previous[0]} sequenced entries are in no signed checkpoint "
                     f"(the latest checkpoint has size {previous[0]} of {size})")


def _check_consistent(previous: tuple[int, bytes], checkpoint: Checkpoint, nodes: dict[merkle.Node, bytes],
                      problems: _Problems) -> None:
    old_size, old_root = previous
    if old_size == 0:
        return
    proof = [merkle.fold(p, nodes) for p in merkle.consistency_plan(old_size, checkpoint.tree_size)]
    try:
        verify_consistency(old_size, checkpoint.tree_size, old_root, checkpoint.root_hash, proof)
    except VerificationError as exc:
        problems.add(f"checkpoints {old_size} → {checkpoint.tree_size}: {exc}")


def _check_saved_checkpoint(note: str, key: VerifierKey, size: int, nodes: dict[merkle.Node, bytes],
                            report: AuditReport) -> None:
    """A checkpoint the auditor kept: the log must still be an extension of it."""
    try:
        saved = verify_checkpoint(note, key)
    except VerificationError as exc:
        report.problems.append(f"the saved checkpoint does not verify with the key: {exc}")
        return
    if saved.tree_size > size:
        report.problems.append(f"the saved checkpoint has {saved.tree_size} entries; the log now has {size}: "
                               "the log lost entries")
    elif _root_at(saved.tree_size, nodes) != saved.root_hash:
        report.problems.append(f"the log's first {saved.tree_size} entries no longer hash to the saved "
                               "checkpoint's root: the history was rewritten")


# --- replaying the log against the public records ---------------------------------------------------


@dataclass
class _Replay:
    units: UnitMap = field(default_factory=UnitMap)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    retirements: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_owners: dict[str, str] = field(default_factory=dict)


def _replay(bodies: list[bytes], report: AuditReport) -> _Replay | None:
    replay = _Replay()
    for position, body in enumerate(bodies):
        try:
            entry = json.loads(body)
            kind = EntryType(entry["type"])  # ValueError for an unknown type
            if kind == EntryType.OPEN_ACCOUNT:
                if entry["id"] in replay.account_owners:
                    raise ValueError(f"account {entry['id']} opened twice")
                replay.account_owners[entry["id"]] = entry["party"]
                continue
            if kind in RECORD_ONLY_ENTRY_TYPES:
                continue  # checked against their tables by their own package's audit (netzero.audit)
            if kind == EntryType.ISSUE:
                replay.units.issue(entry["id"], entry["quantity_kg"], entry["to"])
                replay.issues[entry["id"]] = entry
            else:
                rule = MOVEMENT_RULES[kind]
                allowed = tuple(s.value for s in rule.from_statuses)
                retirement = entry["id"] if kind == EntryType.RETIRE else ""
                if retirement:
                    replay.retirements[retirement] = entry
                for u in entry["units"]:
                    replay.units.move(u["issuance"], u["first_unit"], u["last_unit"], entry["from"], allowed,
                                      entry["to"], rule.to_status.value, retirement)
            listed = sum(u["last_unit"] - u["first_unit"] + 1 for u in entry["units"])
            if listed != entry["quantity_kg"]:
                raise ValueError("quantity_kg differs from the units listed")
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"replaying entry #{position}: {exc}")
            return None
    return replay


def _serial_prefix(serial: str) -> str:
    return serial.rsplit(":", 2)[0]


def _check_issuances(session: Session, replay: _Replay, accounts: dict[int, str], report: AuditReport) -> None:
    problems = _Problems(report)
    rows = session.execute(
        select(Issuance, col(Project.public_id), col(Project.methodology_id), col(Project.methodology_version),
               col(Project.region))
        .join(Project, col(Project.id) == col(Issuance.project_id))
    ).all()
    report.issuances = len(rows)
    for issuance, project, methodology_id, methodology_version, region in rows:
        entry = replay.issues.get(issuance.public_id)
        if entry is None:
            problems.add(f"issuance {issuance.public_id} is in the registry but not in the log")
            continue
        stored = {
            "project": project, "methodology": {"id": methodology_id, "version": methodology_version},
            "region": region, "vintage": issuance.vintage, "to": accounts.get(issuance.account_id),
            "quantity_kg": issuance.quantity_kg, "serial prefix": issuance.serial_prefix,
            "verification_statement_sha256": issuance.verification_statement_sha256,
        }
        logged = {name: entry.get(name) for name in stored} | {
            "serial prefix": _serial_prefix(entry["units"][0]["serial"])}
        for name in stored:
            if stored[name] != logged[name]:
                problems.add(f"issuance {issuance.public_id}: {name} is {stored[name]!r} in the registry, "
                             f"{logged[name]!r} in the log")
    for public_id in replay.issues.keys() - {row[0].public_id for row in rows}:
        problems.add(f"issuance {public_id} is in the log but not in the registry")


def _check_blocks(session: Session, replay: _Replay, accounts: dict[int, str], report: AuditReport) -> None:
    problems = _Problems(report)
    issuances = {r.id: r for r in session.execute(
        select(col(Issuance.id), col(Issuance.public_id), col(Issuance.project_id), col(Issuance.vintage)))}
    retirements = dict(session.execute(select(col(Retirement.id), col(Retirement.public_id))).all())
    stored: dict[str, list[tuple[Any, ...]]] = {}
    for b in session.execute(select(CreditBlock)).scalars():
        issuance = issuances.get(b.issuance_id)
        name = issuance.public_id if issuance else f"#{b.issuance_id}"
        if issuance is None or (b.project_id, b.vintage) != (issuance.project_id, issuance.vintage):
            problems.add(f"block {b.public_id}: its project or vintage is not its issuance's")
        stored.setdefault(name, []).append((b.first_unit, b.last_unit, accounts.get(b.account_id, "?"), b.status,
                                            retirements.get(b.retirement_id, "") if b.retirement_id else ""))
    replayed = replay.units.merged()
    for issuance_id in sorted(stored.keys() | replayed.keys()):
        if _merge(stored.get(issuance_id, [])) != replayed.get(issuance_id, []):
            problems.add(f"issuance {issuance_id}: credit blocks differ from a replay of the log")


def _check_retirements(session: Session, replay: _Replay, accounts: dict[int, str], report: AuditReport) -> None:
    problems = _Problems(report)
    entry_ids = dict(session.execute(select(col(LedgerEntry.id), col(LedgerEntry.body))
                                     .where(col(LedgerEntry.kind) == EntryType.RETIRE.value)).all())
    rows = session.execute(select(Retirement)).scalars().all()
    report.retirements = len(rows)
    for r in rows:
        entry = replay.retirements.get(r.public_id)
        if entry is None:
            problems.add(f"retirement {r.public_id} is in the registry but not in the log")
            continue
        stored = {
            "from": accounts.get(r.account_id), "quantity_kg": r.quantity_kg,
            "beneficiary": {"name": r.beneficiary_name, "type": r.beneficiary_type}, "purpose": r.purpose,
            "claim_period": {"start": r.claim_period_start.isoformat(), "end": r.claim_period_end.isoformat()},
            "note": r.public_note,
        }
        for name, value in stored.items():
            if entry.get(name) != value:
                problems.add(f"retirement {r.public_id}: {name} is {value!r} in the registry, "
                             f"{entry.get(name)!r} in the log")
        linked = entry_ids.get(r.ledger_entry_id) if r.ledger_entry_id is not None else None
        if linked is None or json.loads(linked).get("id") != r.public_id:
            problems.add(f"retirement {r.public_id} does not point at its own log entry")
    for public_id in replay.retirements.keys() - {r.public_id for r in rows}:
        problems.add(f"retirement {public_id} is in the log but not in the registry")


def _check_accounts(session: Session, replay: _Replay, report: AuditReport) -> None:
    problems = _Problems(report)
    rows = session.execute(
        select(col(Account.public_id), col(Account.kind), col(Party.public_id).label("party"))
        .outerjoin(Party, col(Party.id) == col(Account.party_id))
    ).all()
    report.accounts = len(rows)
    for row in rows:
        logged = replay.account_owners.get(row.public_id)
        if row.kind == AccountKind.HOLDING and logged != row.party:
            problems.add(f"account {row.public_id} is held by {row.party} in the registry, "
                         f"by {logged} in the log")
        if row.kind != AccountKind.HOLDING and logged is not None:
            problems.add(f"system account {row.public_id} was opened in the log as a holding account")
    for public_id in replay.account_owners.keys() - {row.public_id for row in rows}:
        problems.add(f"account {public_id} is in the log but not in the registry")


# --- the whole audit ----------------------------------------------------------------------------


def audit(session: Session, verifier_key: str, saved_checkpoint: str | None = None) -> AuditReport:
    """Run every check in one snapshot (`Database.snapshot`); the report lists what failed."""
    report = AuditReport()
    key = parse_verifier_key(verifier_key)
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
    _check_checkpoints(session, key, len(sequenced), nodes, report)
    if saved_checkpoint is not None:
        _check_saved_checkpoint(saved_checkpoint, key, len(sequenced), nodes, report)
    replay = _replay([bytes(r.body) for r in rows], report)
    if replay is not None:
        accounts = dict(session.execute(select(col(Account.id), col(Account.public_id))).all())
        _check_accounts(session, replay, report)
        _check_issuances(session, replay, accounts, report)
        _check_blocks(session, replay, accounts, report)
        _check_retirements(session, replay, accounts, report)
    return report
