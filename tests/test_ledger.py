"""Sequencer, signed checkpoints, proofs, the retirement bundle and the audit, on both databases."""

import base64
import copy
import json
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update

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
from registry.models import CreditBlock
from tests.world import World, issue, make_world

DETAILS = RetirementDetails("Suzhou Precision Parts Factory", "organisation", "Net-zero claim 2025",
                            date(2025, 1, 1), date(2025, 12, 31))


def busy_world(db: Database) -> tuple[World, str]:
    """Issue, transfer in pieces, retire: a dozen entries. Returns the retirement id."""
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
    assert log.sequence_all(db, signer, batch_size=5) == 2  # 8 entries: batches of 5 and 3
    with db.read() as s:
        checkpoint = log.latest_checkpoint(s)
        assert checkpoint is not None and checkpoint.tree_size == 8
        parsed = verify_checkpoint(checkpoint.note, parse_verifier_key(signer.verifier_key))
        assert parsed.tree_size == 8 and parsed.origin == signer.name
        for index in range(8):
            proof = log.inclusion_proof(s, index, 8)
            verify_inclusion(index, 8, leaf_hash(log.entry_at(s, index)), proof, parsed.root_hash)
        first = s.execute(select(LogCheckpoint).where(LogCheckpoint.tree_size == 5)).scalar_one()
        verify_consistency(5, 8, first.root_hash, parsed.root_hash, log.consistency_proof(s, 5, 8))
    assert log.sequence_all(db, signer) == 0


def test_checkpoint_note_is_c2sp_format(signer: LogSigner) -> None:
    note = signer.sign_checkpoint(3, bytes(range(32)))
    body, signature_line = note.split("\n\n")
    assert body == f"{signer.name}\n3\n{base64.b64encode(bytes(range(32))).decode()}"
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
    bad_note = {**bundle, "checkpoint": bundle["checkpoint"].replace("\n8\n", "\n7\n")}
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
    assert (report.entries, report.pending, report.checkpoints, report.issuances) == (8, 1, 3, 3)


def tamper_edit_entry(s) -> None:  # type: ignore[no-untyped-def]
    row = s.execute(select(LedgerEntry).where(LedgerEntry.leaf_index == 2)).scalar_one()
    s.execute(update(LedgerEntry).where(LedgerEntry.id == row.id)
              .values(body=row.body.replace(b'"quantity_kg":1700', b'"quantity_kg":1701')))


def tamper_delete_entry(s) -> None:  # type: ignore[no-untyped-def]
    s.execute(update(CreditBlock).values(retirement_id=None).where(CreditBlock.id < 0))
    entry = s.execute(select(LedgerEntry).where(LedgerEntry.leaf_index == 3)).scalar_one()
    s.execute(delete(LedgerEntry).where(LedgerEntry.id == entry.id))


def tamper_insert_entry(s) -> None:  # type: ignore[no-untyped-def]
    body = s.execute(select(LedgerEntry.body).where(LedgerEntry.leaf_index == 0)).scalar_one()
    forged = json.loads(body)
    forged["id"] = "iss_forged"
    s.execute(insert(LedgerEntry).values(kind="issue", body=json.dumps(forged).encode(), leaf_index=8))


def tamper_steal_block(s) -> None:  # type: ignore[no-untyped-def]
    active = s.execute(select(CreditBlock).where(CreditBlock.status == "active")).scalars().all()
    victim = active[0]
    thief = next(b.account_id for b in active if b.account_id != victim.account_id)
    s.execute(update(CreditBlock).where(CreditBlock.id == victim.id).values(account_id=thief))


def tamper_mint_block(s) -> None:  # type: ignore[no-untyped-def]
    block = s.execute(select(CreditBlock).order_by(CreditBlock.last_unit.desc())).scalars().first()
    s.execute(insert(CreditBlock).values(
        public_id="blk_minted", issuance_id=block.issuance_id, first_unit=block.last_unit + 1,
        last_unit=block.last_unit + 1_000, quantity_kg=1_000, account_id=block.account_id, status="active",
        project_id=block.project_id, vintage=block.vintage))


def tamper_checkpoint(s) -> None:  # type: ignore[no-untyped-def]
    cp = s.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size)).scalars().first()
    s.execute(update(LogCheckpoint).where(LogCheckpoint.id == cp.id).values(note=cp.note.replace("\n3\n", "\n2\n")))


def tamper_node(s) -> None:  # type: ignore[no-untyped-def]
    s.execute(update(MerkleNode).where(MerkleNode.level == 1, MerkleNode.position == 0).values(hash=bytes(32)))


@pytest.mark.parametrize("tamper", [tamper_edit_entry, tamper_delete_entry, tamper_insert_entry, tamper_steal_block,
                                    tamper_mint_block, tamper_checkpoint, tamper_node])
def test_audit_catches_rows_changed_behind_the_services_back(db: Database, signer: LogSigner, tamper) -> None:  # type: ignore[no-untyped-def]
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
        for args in ((8, 8), (0, 9), (-1, 8), (0, 0)):
            with pytest.raises(errors.InvalidRequest, match="tree"):
                log.inclusion_proof(s, *args)
        with pytest.raises(errors.InvalidRequest):
            log.consistency_proof(s, 9, 8)
