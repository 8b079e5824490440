"""Sequencer, signed checkpoints, proofs, the retirement bundle and the audit, on both databases."""

import base64
import copy
import json
import time
from collections.abc import Callable
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from registry import credits, errors
from registry.credits import OldestFirstSelection, RetirementDetails
from registry.db import Database
from registry.ledger import log
from registry.ledger.audit import audit
from registry.ledger.models import LedgerEntry, LogCheckpoint, MerkleNode
from registry.ledger.signing import LogSigner
from registry.ledger.verify import (
    VerificationError,
    leaf_hash,
    parse_verifier_key,
    verify_bundle,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from registry.models import Account, CreditBlock, Issuance, Project, Retirement
from tests.world import World, issue, make_world

DETAILS = RetirementDetails("Suzhou Precision Parts Factory", "organisation", "Net-zero claim 2025",
                            date(2025, 1, 1), date(2025, 12, 31))


def busy_world(db: Database) -> tuple[World, str]:
    """Open two accounts, issue twice, transfer in pieces, retire: ten entries (leaf 2 and 3 are the
    issues, 4 to 8 the transfers, 9 the retirement). Returns the retirement id."""
    world = make_world(db)
    issue(db, world, 10_000, vintage=2024)
    issue(db, world, 5_000, vintage=2025)
    for _ in range(5):
        with db.write() as s:
            credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1_700,
                                     OldestFirstSelection())
    with db.write() as s:
        retirement, _ = credits.retire_credits(s, world.factory, world.factory_account, 1_823, OldestFirstSelection(),
                                               DETAILS)
    return world, retirement.public_id


def test_sequencer_assigns_indexes_in_batches_and_signs(db: Database, signer: LogSigner) -> None:
    busy_world(db)
    assert log.sequence_all(db, signer, batch_size=6) == 2  # 10 entries: batches of 6 and 4
    with db.read() as s:
        checkpoint = log.latest_checkpoint(s)
        assert checkpoint is not None and checkpoint.tree_size == 10
        parsed = verify_checkpoint(checkpoint.note, parse_verifier_key(signer.verifier_key))
        assert parsed.tree_size == 10 and parsed.origin == signer.name
        for index in range(10):
            proof = log.inclusion_proof(s, index, 10)
            verify_inclusion(index, 10, leaf_hash(log.entry_at(s, index)), proof, parsed.root_hash)
        first = s.execute(select(LogCheckpoint).where(LogCheckpoint.tree_size == 6)).scalar_one()
        assert parsed.previous == (6, first.root_hash)  # each checkpoint names the one before it
        verify_consistency(6, 10, first.root_hash, parsed.root_hash, log.consistency_proof(s, 6, 10))
    assert log.sequence_all(db, signer) == 0


def test_checkpoint_note_is_c2sp_format(signer: LogSigner) -> None:
    note = signer.sign_checkpoint(3, bytes(range(32)), 2, bytes(32))
    body, signature_line = note.split("\n\n")
    assert body == (f"{signer.name}\n3\n{base64.b64encode(bytes(range(32))).decode()}\n"
                    f"previous 2 {base64.b64encode(bytes(32)).decode()}")
    assert signature_line.startswith(f"\u2014 {signer.name} ") and signature_line.endswith("\n")
    assert base64.b64decode(signature_line.split(" ")[2])[:4] == signer.key_id


def test_retirement_bundle_verifies_offline_and_tampering_is_refused(db: Database, signer: LogSigner) -> None:
    _, retirement_id = busy_world(db)
    with db.read() as s, pytest.raises(errors.NotYetInCheckpoint, match="not in a signed checkpoint"):
        log.retirement_proof_bundle(s, retirement_id)
    log.sequence_all(db, signer)
    with db.read() as s:
        bundle = log.retirement_proof_bundle(s, retirement_id)
    key = parse_verifier_key(signer.verifier_key)
    entry = verify_bundle(bundle, key)
    assert entry["type"] == "retire" and entry["quantity_kg"] == 1_823 and entry["id"] == retirement_id

    forged = copy.deepcopy(bundle)
    forged["entry"] = bundle["entry"].replace('"quantity_kg":1823', '"quantity_kg":9999')
    wrong_index = {**bundle, "leaf_index": bundle["leaf_index"] - 1}
    bad_hash = copy.deepcopy(bundle)
    bad_hash["inclusion"]["hashes"][0] = base64.b64encode(bytes(32)).decode()
    bad_note = {**bundle, "checkpoint": bundle["checkpoint"].replace("\n10\n", "\n9\n")}
    other_key = parse_verifier_key(LogSigner(signer.name, Ed25519PrivateKey.generate()).verifier_key)
    for tampered, k in ((forged, key), (wrong_index, key), (bad_hash, key), (bad_note, key), (bundle, other_key)):
        with pytest.raises(VerificationError):
            verify_bundle(tampered, k)


def test_audit_passes_on_an_honest_registry(db: Database, signer: LogSigner) -> None:
    busy_world(db)
    log.sequence_all(db, signer, batch_size=3)
    world = make_world(db)  # a second world: one more issuance, still unsequenced, replayed all the same
    issue(db, world, 500)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
    assert report.ok, report.problems
    assert (report.entries, report.pending, report.checkpoints, report.issuances) == (10, 3, 4, 3)
    assert (report.retirements, report.accounts) == (1, 7)  # four holding accounts and three system ones


def tamper_edit_entry(s: Session) -> None:
    row = s.execute(select(LedgerEntry).where(LedgerEntry.leaf_index == 4)).scalar_one()
    s.execute(update(LedgerEntry).where(LedgerEntry.id == row.id)
              .values(body=row.body.replace(b'"quantity_kg":1700', b'"quantity_kg":1701')))


def tamper_delete_entry(s: Session) -> None:
    s.execute(update(CreditBlock).values(retirement_id=None).where(CreditBlock.id < 0))
    entry = s.execute(select(LedgerEntry).where(LedgerEntry.leaf_index == 3)).scalar_one()
    s.execute(delete(LedgerEntry).where(LedgerEntry.id == entry.id))


def tamper_insert_entry(s: Session) -> None:
    body = s.execute(select(LedgerEntry.body).where(LedgerEntry.leaf_index == 0)).scalar_one()
    forged = json.loads(body)
    forged["id"] = "iss_forged"
    s.execute(insert(LedgerEntry).values(kind="issue", body=json.dumps(forged).encode(), leaf_index=10))


def tamper_steal_block(s: Session) -> None:
    active = s.execute(select(CreditBlock).where(CreditBlock.status == "active")).scalars().all()
    victim = active[0]
    thief = next(b.account_id for b in active if b.account_id != victim.account_id)
    s.execute(update(CreditBlock).where(CreditBlock.id == victim.id).values(account_id=thief))


def tamper_mint_block(s: Session) -> None:
    block = s.execute(select(CreditBlock).order_by(CreditBlock.last_unit.desc())).scalars().first()
    s.execute(insert(CreditBlock).values(
        public_id="blk_minted", issuance_id=block.issuance_id, first_unit=block.last_unit + 1,
        last_unit=block.last_unit + 1_000, quantity_kg=1_000, account_id=block.account_id, status="active",
        project_id=block.project_id, vintage=block.vintage))


def tamper_checkpoint(s: Session) -> None:
    cp = s.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size)).scalars().first()
    s.execute(update(LogCheckpoint).where(LogCheckpoint.id == cp.id).values(note=cp.note.replace("\n3\n", "\n2\n")))


def tamper_node(s: Session) -> None:
    s.execute(update(MerkleNode).where(MerkleNode.level == 1, MerkleNode.position == 0).values(hash=bytes(32)))


def delete_checkpoints(s: Session, which: Callable[[list[LogCheckpoint]], list[LogCheckpoint]]) -> None:
    checkpoints = s.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size)).scalars().all()
    s.execute(delete(LogCheckpoint).where(LogCheckpoint.id.in_([cp.id for cp in which(list(checkpoints))])))


def tamper_delete_latest_checkpoint(s: Session) -> None:
    delete_checkpoints(s, lambda cps: cps[-1:])


def tamper_delete_middle_checkpoint(s: Session) -> None:
    delete_checkpoints(s, lambda cps: cps[1:2])


def tamper_delete_every_checkpoint(s: Session) -> None:
    delete_checkpoints(s, lambda cps: cps)


def tamper_retirement(**values: object) -> Callable[[Session], None]:
    def tamper(s: Session) -> None:
        s.execute(update(Retirement).values(**values))
    tamper.__name__ = f"tamper_retirement_{'_'.join(values)}"
    return tamper


def tamper_account_holder(s: Session) -> None:
    factory_account = s.execute(select(LedgerEntry.body).where(LedgerEntry.leaf_index == 1)).scalar_one()
    owner_account = s.execute(select(LedgerEntry.body).where(LedgerEntry.leaf_index == 0)).scalar_one()
    owner = s.execute(select(Account.party_id).where(Account.public_id == json.loads(owner_account)["id"])).scalar_one()
    s.execute(update(Account).where(Account.public_id == json.loads(factory_account)["id"]).values(party_id=owner))


def tamper_issuance(**values: object) -> Callable[[Session], None]:
    def tamper(s: Session) -> None:
        first = s.execute(select(Issuance.id).order_by(Issuance.id)).scalars().first()
        s.execute(update(Issuance).where(Issuance.id == first).values(**values))
    tamper.__name__ = f"tamper_issuance_{'_'.join(values)}"
    return tamper


def tamper_project_region(s: Session) -> None:
    s.execute(update(Project).values(region="CN-ZJ"))


def tamper_block_vintage(s: Session) -> None:
    block = s.execute(select(CreditBlock).order_by(CreditBlock.id)).scalars().first()
    s.execute(update(CreditBlock).where(CreditBlock.id == block.id).values(vintage=2019))


TAMPERING = [
    tamper_edit_entry, tamper_delete_entry, tamper_insert_entry, tamper_steal_block, tamper_mint_block,
    tamper_checkpoint, tamper_node, tamper_delete_latest_checkpoint, tamper_delete_middle_checkpoint,
    tamper_delete_every_checkpoint, tamper_retirement(beneficiary_name="Someone Else"),
    tamper_retirement(purpose="A different claim"), tamper_retirement(quantity_kg=1),
    tamper_retirement(public_note="rewritten"), tamper_account_holder,
    tamper_issuance(verification_statement_sha256="0" * 64),
    tamper_issuance(serial_prefix="CN-JS:X:1:P000001:2024:I009"),
    tamper_issuance(vintage=2023), tamper_project_region, tamper_block_vintage,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda t: t.__name__)
def test_audit_catches_rows_changed_behind_the_services_back(
        db: Database, signer: LogSigner, tamper: Callable[[Session], None]) -> None:
    busy_world(db)
    log.sequence_all(db, signer, batch_size=3)
    with db.write() as s:
        tamper(s)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
    assert not report.ok
    assert report.problems


def test_proof_requests_outside_the_tree_are_refused(db: Database, signer: LogSigner) -> None:
    busy_world(db)
    log.sequence_all(db, signer)
    with db.read() as s:
        for args in ((10, 10), (0, 11), (-1, 10), (0, 0)):
            with pytest.raises(errors.InvalidRequest, match="tree"):
                log.inclusion_proof(s, *args)
        with pytest.raises(errors.InvalidRequest):
            log.consistency_proof(s, 11, 10)


def test_a_rewritten_history_signed_with_a_new_key_fails_against_the_auditors_key(
        db: Database, signer: LogSigner) -> None:
    busy_world(db)
    log.sequence_all(db, signer, batch_size=4)
    with db.read() as s:
        saved = log.latest_checkpoint(s).note  # an auditor kept this checkpoint
    with db.write() as s:  # truncate the log, clear the tree, re-sign with a new key
        last = s.execute(select(LedgerEntry).where(LedgerEntry.leaf_index == 9)).scalar_one()
        s.execute(update(Retirement).values(ledger_entry_id=None))
        s.execute(delete(LedgerEntry).where(LedgerEntry.id == last.id))
        s.execute(delete(MerkleNode))
        s.execute(delete(LogCheckpoint))
        s.execute(update(LedgerEntry).values(leaf_index=None))
    impostor = LogSigner(signer.name, Ed25519PrivateKey.generate())
    log.sequence_all(db, impostor)
    with db.snapshot() as s:
        against_the_host_key = audit(s, impostor.verifier_key)
        against_the_auditors_key = audit(s, signer.verifier_key, saved)
    assert not against_the_auditors_key.ok
    assert any("no signature by key" in p for p in against_the_auditors_key.problems)
    assert any("saved checkpoint" in p for p in against_the_auditors_key.problems)
    # Even with the impostor's key the records no longer match the log (the retirement is gone from it).
    assert not against_the_host_key.ok


def test_a_saved_checkpoint_the_log_still_extends_passes(db: Database, signer: LogSigner) -> None:
    world, _ = busy_world(db)
    log.sequence_all(db, signer)
    with db.read() as s:
        saved = log.latest_checkpoint(s).note
    issue(db, world, 700)
    log.sequence_all(db, signer)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key, saved)
    assert report.ok, report.problems


def test_the_sequencer_takes_the_next_index_from_the_entries_not_the_checkpoints(
        db: Database, signer: LogSigner) -> None:
    world, _ = busy_world(db)
    log.sequence_all(db, signer)
    with db.write() as s:
        s.execute(delete(LogCheckpoint))  # a damaged checkpoint table
    issue(db, world, 700)
    assert log.sequence_all(db, signer) == 1
    with db.read() as s:
        indexes = s.execute(select(LedgerEntry.leaf_index).order_by(LedgerEntry.leaf_index)).scalars().all()
        assert indexes == list(range(11))
        assert log.latest_checkpoint(s).tree_size == 11
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
    assert any("gap" in p for p in report.problems)  # the lost checkpoint stays visible


def test_a_failing_sequencer_logs_each_distinct_error_once_and_backs_off(
        db: Database, signer: LogSigner, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(log.SequencerThread):
        steps = 0

        def step(self) -> None:
            Broken.steps += 1
            raise RuntimeError("checkpoint table unreadable")

    thread = Broken(db, signer, interval_s=0.01, batch_size=10)
    with caplog.at_level("ERROR", logger="registry.ledger.log"):
        thread.start()
        time.sleep(0.7)
        thread.stop()
    failures = [r for r in caplog.records if "sequencer step failed" in r.getMessage()]
    assert len(failures) == 1
    # Doubling from 10 ms: about 6 attempts in 0.7 s, where a fixed 10 ms would make about 70.
    assert 2 <= Broken.steps <= 10
