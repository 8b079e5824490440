"""The audit's net-zero part: every certificate row is its ledger entry, every entry a row.

Run after `registry.ledger.audit.audit` on the same snapshot (`cir audit` does it). A certificate's
stored document must be its entry's bytes; the retirements it names must back its claim and hash
to the leaves it commits to; a revoked certificate has its revocation entry, and no other has one.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import Session, col

from netzero.models import Certificate, ClaimRetirement
from registry.ledger.audit import AuditReport
from registry.ledger.entries import EntryType
from registry.ledger.models import LedgerEntry
from registry.ledger.verify import leaf_hash
from registry.models import Retirement


def audit_netzero(session: Session, report: AuditReport) -> None:
    entries = {row.id: bytes(row.body) for row in session.execute(
        select(col(LedgerEntry.id), col(LedgerEntry.body)).where(
            col(LedgerEntry.kind) == EntryType.NET_ZERO_CERTIFICATE.value))}
    revocations = {json.loads(body)["id"] for body in session.execute(
        select(col(LedgerEntry.body)).where(col(LedgerEntry.kind) == EntryType.NET_ZERO_CERTIFICATE_REVOKED.value)
    ).scalars()}
    retirement_entries = {row.public_id: (row.claim_id, bytes(row.body)) for row in session.execute(
        select(col(Retirement.public_id), col(ClaimRetirement.claim_id), col(LedgerEntry.body))
        .join(ClaimRetirement, col(ClaimRetirement.retirement_id) == col(Retirement.id))
        .join(LedgerEntry, col(LedgerEntry.id) == col(Retirement.ledger_entry_id)))}
    certified = set()
    for certificate in session.execute(select(Certificate)).scalars():
        certified.add(certificate.ledger_entry_id)
        name = f"certificate {certificate.number}"
        if entries.get(certificate.ledger_entry_id) != bytes(certificate.document):
            report.problems.append(f"{name}: the stored certificate differs from its ledger entry")
            continue
        document = json.loads(certificate.document)
        for named in document["retirements"]:
            claim_id, body = retirement_entries.get(named["id"], (None, b""))
            if claim_id != certificate.claim_id:
                report.problems.append(f"{name}: retirement {named['id']} does not back its claim")
            elif leaf_hash(body).hex() != named["leaf_hash"]:
                report.problems.append(f"{name}: retirement {named['id']} is not the entry it committed to")
        if certificate.covered_kg != document["covered_kg"] or certificate.covered_kg < certificate.residual_kg:
            report.problems.append(f"{name}: covered figure differs from its entry or falls short")
        if certificate.revoked != (certificate.public_id in revocations):
            report.problems.append(f"{name}: revocation status differs from the log")
    for entry_id in entries.keys() - certified:
        report.problems.append(f"ledger entry {entry_id} certifies net zero but no certificate holds it")
