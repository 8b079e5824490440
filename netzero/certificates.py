"""Net-zero certificates: issued when a claim is covered, written to the ledger as an entry that
commits to the inventory statement's hash and to the leaf hashes of the retirements behind it, so
that the proof bundle (`certificate_proof_bundle`) can be checked offline with the log's key alone.

Only a revocation is stored; a certificate is `expired` after its validity and `insufficient` while
a restated inventory asks for more than it covers (`certificate_status`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlmodel import Session, col

from netzero.claims import coverage, facility_of_claim, verified_inventory
from netzero.errors import (
    CertificateAlreadyIssued,
    CertificateRevoked,
    ClaimNotCovered,
    GreenCertificateFlagged,
    UnknownCertificate,
)
from netzero.inventories import add_months, current_verified, emissions_of, green_certificate_flags
from netzero.models import (
    Certificate,
    CertificateStatus,
    Claim,
    Facility,
    Inventory,
    InventoryStatement,
    InventoryStatus,
)
from registry import errors
from registry.ids import new_public_id
from registry.ledger.entries import EntryType, append_entry
from registry.ledger.log import b64, inclusion_proof, latest_checkpoint
from registry.ledger.models import LedgerEntry
from registry.ledger.verify import leaf_hash
from registry.models import Party, Retirement, Role, get_by_public_id, pk, rows_changed
from registry.parties import require_role
from verification.models import VerifierAccreditation


def get_certificate(session: Session, public_id: str) -> Certificate:
    return get_by_public_id(session, Certificate, public_id,
                            lambda: UnknownCertificate(f"no certificate {public_id}"))


def document_of(certificate: Certificate) -> dict[str, Any]:
    """The certificate as its ledger entry states it."""
    parsed: dict[str, Any] = json.loads(certificate.document)
    return parsed


def certificate_status(session: Session, certificate: Certificate, today: date | None = None) -> CertificateStatus:
    found = current_verified(session, certificate.facility_id, certificate.period_start)
    return status_of(certificate, found[1].verified_residual_kg if found else None, today)


def _number(session: Session, claim: Claim) -> str:
    """CIR-NZ-<period year>-<claim number>, and -2, -3 … for a claim's later certificates: unique by
    construction under the claim's lock, with no registry-wide counter to contend for."""
    earlier = session.execute(select(func.count()).select_from(Certificate)
                              .where(col(Certificate.claim_id) == claim.id)).scalar_one()
    base = f"CIR-NZ-{claim.period_end.year}-{pk(claim):06d}"
    return base if earlier == 0 else f"{base}-{earlier + 1}"


def issue_certificate(session: Session, party: Party, claim: Claim, validity_months: int) -> Certificate:
    """Certify a covered claim. A new certificate for the same claim (after the inventory was
    restated and topped up) revokes the one before it."""
    if claim.party_id != party.id:
        raise errors.PermissionDenied(f"claim {claim.public_id} is not yours")
    session.execute(select(col(Claim.id)).where(col(Claim.id) == claim.id).with_for_update())
    inventory, statement = verified_inventory(session, claim)
    flags = green_certificate_flags(session, inventory)
    if flags:
        raise GreenCertificateFlagged("; ".join(flags) + ": the PV owner must deduct it in its reports, or the "
                                      "inventory be restated without it, before a certificate is issued")
    covered = coverage(session, claim)
    if covered.covered_kg < statement.verified_residual_kg:
        raise ClaimNotCovered(
            f"claim {claim.public_id} is covered by {covered.covered_kg:,} kg of the verified "
            f"{statement.verified_residual_kg:,} kg: retire {covered.remaining_kg:,} kg more for it")
    current = session.execute(select(Certificate).where(col(Certificate.claim_id) == claim.id,
                                                        col(Certificate.revoked).is_(False))).scalars().all()
    for earlier in current:
        if certificate_status(session, earlier) == CertificateStatus.VALID:
            raise CertificateAlreadyIssued(f"certificate {earlier.number} already certifies this claim")
    facility = facility_of_claim(session, claim)
    owner = session.get(Party, claim.party_id)
    verifier = session.execute(select(Party).join(VerifierAccreditation, col(VerifierAccreditation.party_id)
                                                  == col(Party.id))
                               .where(col(VerifierAccreditation.id) == statement.accreditation_id)).scalar_one()
    assert owner is not None
    issued_on = datetime.now(UTC).date()
    valid_until = date.fromordinal(add_months(issued_on, validity_months).toordinal() - 1)
    emissions = emissions_of(inventory)
    public_id, number = new_public_id("nzc"), _number(session, claim)
    body = {
        "id": public_id,
        "number": number,
        "claim": claim.public_id,
        "facility": {"id": facility.public_id, "name": facility.name, "region": facility.region,
                     "address": facility.address, "industry": facility.industry, "boundary": facility.boundary},
        "party": {"id": owner.public_id, "name": owner.name},
        "period": {"start": claim.period_start.isoformat(), "end": claim.period_end.isoformat()},
        "inventory": {"id": inventory.public_id, "version": inventory.version, "statement_sha256": statement.sha256,
                      "verifier": {"id": verifier.public_id, "name": verifier.name},
                      "verified_on": statement.signed_at.date().isoformat()},
        "emissions_kg": emissions.as_entry() | {"residual": statement.verified_residual_kg},
        "renewable_electricity_share_bp": emissions.renewable_share_bp,
        "covered_kg": covered.covered_kg, "reductions_kg": covered.reductions_kg,
        "removals_kg": covered.removals_kg, "cross_regional_kg": covered.cross_regional_kg,
        "offsets": covered.lines,
        "retirements": [{"id": retirement.public_id, "leaf_hash": leaf_hash(entry).hex()}
                        for retirement, entry in covered.retirements],
        "issued_on": issued_on.isoformat(), "valid_from": issued_on.isoformat(), "valid_until": valid_until.isoformat(),
    }
    entry_id, entry = append_entry(session, EntryType.NET_ZERO_CERTIFICATE, body, None, None)
    for earlier in current:
        _revoke(session, earlier, f"replaced by certificate {number} after the inventory was restated")
    certificate = Certificate(
        public_id=public_id, number=number, claim_id=pk(claim), inventory_id=pk(inventory), facility_id=pk(facility),
        party_id=pk(owner), region=facility.region, period_start=claim.period_start, period_end=claim.period_end,
        residual_kg=statement.verified_residual_kg, covered_kg=covered.covered_kg, valid_from=issued_on,
        valid_until=valid_until, document=entry, ledger_entry_id=entry_id)
    session.add(certificate)
    session.flush()
    return certificate


def _revoke(session: Session, certificate: Certificate, reason: str) -> None:
    result = session.execute(update(Certificate).where(col(Certificate.id) == certificate.id,
                                                       col(Certificate.revoked).is_(False))
                             .values(revoked=True, revoked_reason=reason, revoked_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        raise CertificateRevoked(f"certificate {certificate.number} is already revoked")
    append_entry(session, EntryType.NET_ZERO_CERTIFICATE_REVOKED,
                 {"id": certificate.public_id, "number": certificate.number, "reason": reason}, None, None)
    session.refresh(certificate)


def revoke_certificate(session: Session, registrar: Party, certificate: Certificate, reason: str) -> Certificate:
    """The registrar withdraws a certificate (a claim found wrong, fraud): public, with its reason."""
    require_role(registrar, Role.REGISTRAR)
    if not reason.strip():
        raise errors.InvalidRequest("say why: the reason is published with the certificate")
    _revoke(session, certificate, reason.strip())
    return certificate


# --- public reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFilter:
    facility: str | None = None
    party: str | None = None
    region: str | None = None
    year: int | None = None  # of the reporting period's end
    status: CertificateStatus | None = None


def _current_residual() -> Any:
    """The verified residual of the latest verified version of the certificate's inventory."""
    return (select(col(InventoryStatement.verified_residual_kg))
            .join(Inventory, col(Inventory.id) == col(InventoryStatement.inventory_id))
            .where(col(Inventory.facility_id) == col(Certificate.facility_id),
                   col(Inventory.period_start) == col(Certificate.period_start),
                   col(Inventory.status) == InventoryStatus.VERIFIED.value)
            .order_by(col(Inventory.version).desc()).limit(1).correlate(Certificate).scalar_subquery())


def _status_clause(status: CertificateStatus, today: date) -> ColumnElement[bool]:
    """`certificate_status` in SQL, so that a filtered list pages like any other."""
    expired = col(Certificate.valid_until) < today
    insufficient = _current_residual() > col(Certificate.covered_kg)
    revoked = col(Certificate.revoked).is_(True)
    return {
        CertificateStatus.REVOKED: revoked,
        CertificateStatus.EXPIRED: and_(~revoked, expired),
        CertificateStatus.INSUFFICIENT: and_(~revoked, ~expired, insufficient),
        CertificateStatus.VALID: and_(~revoked, ~expired, ~insufficient),
    }[status]


def certificates_query(filters: CertificateFilter) -> Any:
    """Public: every certificate with its facility and holder, newest first, and the inventory's
    current verified residual (`current_residual_kg`) from which its status follows."""
    query = (select(Certificate, col(Facility.public_id).label("facility_public_id"), col(Facility.name).label(
        "facility_name"), col(Party.public_id).label("party_public_id"), col(Party.name).label("party_name"),
        _current_residual().label("current_residual_kg"))
        .join(Facility, col(Facility.id) == col(Certificate.facility_id))
        .join(Party, col(Party.id) == col(Certificate.party_id)))
    if filters.facility is not None:
        query = query.where(col(Facility.public_id) == filters.facility)
    if filters.party is not None:
        query = query.where(col(Party.public_id) == filters.party)
    if filters.region is not None:
        query = query.where(col(Certificate.region) == filters.region)
    if filters.year is not None:
        query = query.where(col(Certificate.period_end) >= date(filters.year, 1, 1),
                            col(Certificate.period_end) <= date(filters.year, 12, 31))
    if filters.status is not None:
        query = query.where(_status_clause(filters.status, datetime.now(UTC).date()))
    return query


def status_of(certificate: Certificate, current_residual_kg: int | None, today: date | None = None
              ) -> CertificateStatus:
    if certificate.revoked:
        return CertificateStatus.REVOKED
    if (today or datetime.now(UTC).date()) > certificate.valid_until:
        return CertificateStatus.EXPIRED
    if current_residual_kg is not None and current_residual_kg > certificate.covered_kg:
        return CertificateStatus.INSUFFICIENT
    return CertificateStatus.VALID


def certificate_proof_bundle(session: Session, certificate: Certificate) -> dict[str, Any]:
    """{"checkpoint", "entries": [{"entry", "leaf_index", "inclusion"}, …]}: the certificate's entry
    first, then each retirement's, all proved against one signed checkpoint."""
    document = document_of(certificate)
    rows = [session.execute(select(col(LedgerEntry.body), col(LedgerEntry.leaf_index))
                            .where(col(LedgerEntry.id) == certificate.ledger_entry_id)).one()]
    for retirement in document["retirements"]:
        rows.append(session.execute(
            select(col(LedgerEntry.body), col(LedgerEntry.leaf_index))
            .join(Retirement, col(Retirement.ledger_entry_id) == col(LedgerEntry.id))
            .where(col(Retirement.public_id) == retirement["id"])).one())
    checkpoint = latest_checkpoint(session)
    if checkpoint is None or any(row.leaf_index is None or row.leaf_index >= checkpoint.tree_size for row in rows):
        raise errors.NotYetInCheckpoint("the certificate is not in a signed checkpoint yet; retry in a second")
    return {
        "checkpoint": checkpoint.note,
        "entries": [{"entry": bytes(row.body).decode(), "leaf_index": row.leaf_index,
                     "inclusion": {"leaf_index": row.leaf_index, "tree_size": checkpoint.tree_size,
                                   "hashes": b64(inclusion_proof(session, row.leaf_index, checkpoint.tree_size))}}
                    for row in rows],
    }
