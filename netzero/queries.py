"""Read models of net zero: what the API and the pages show of facilities, inventories, claims and
certificates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from netzero import schemas
from netzero.certificates import CertificateFilter, certificates_query, document_of, get_certificate, status_of
from netzero.claims import coverage, facility_of_claim, retirement_deadline
from netzero.inventories import (
    calculation_of,
    current_verified,
    emissions_of,
    facility_of,
    green_certificate_flags,
    statement_of,
)
from netzero.models import Certificate, CertificateStatus, Claim, Facility, Inventory
from registry.models import Party
from registry.queries import page
from registry.schemas import Page


def facility_out(session: Session, facility: Facility) -> schemas.FacilityOut:
    party = session.get(Party, facility.party_id)
    assert party is not None
    return schemas.FacilityOut(id=facility.public_id, name=facility.name, region=facility.region,
                               address=facility.address, industry=facility.industry, boundary=facility.boundary,
                               party=party.public_id, created_at=facility.created_at)


def inventory_out(session: Session, inventory: Inventory) -> schemas.InventoryOut:
    facility = facility_of(session, inventory)
    emissions = emissions_of(inventory)
    statement = statement_of(session, inventory)
    verifier = session.get(Party, inventory.verifier_party_id) if inventory.verifier_party_id else None
    return schemas.InventoryOut(
        id=inventory.public_id, facility=facility.public_id, facility_name=facility.name, region=facility.region,
        boundary=facility.boundary, period_start=inventory.period_start, period_end=inventory.period_end,
        version=inventory.version, status=inventory.status, data_sha256=inventory.data_sha256,
        data_filename=inventory.filename, emissions_kg=schemas.EmissionsOut(**emissions.as_entry()),
        renewable_electricity_share_bp=emissions.renewable_share_bp,
        verified_residual_kg=statement.verified_residual_kg if statement else None,
        statement_sha256=statement.sha256 if statement else None,
        verifier=verifier.public_id if verifier else None, comment=inventory.comment,
        flags=green_certificate_flags(session, inventory), calculation=calculation_of(inventory)["detail"],
        created_at=inventory.created_at)


def list_inventories(session: Session, query: Any, cursor: str | None, limit: int) -> Page[schemas.InventoryOut]:
    rows, next_cursor = page(session, query, col(Inventory.id), cursor, limit)
    return Page(items=[inventory_out(session, row[0]) for row in rows], next_cursor=next_cursor)


def current_certificate(session: Session, claim: Claim) -> Certificate | None:
    return session.execute(select(Certificate).where(col(Certificate.claim_id) == claim.id,
                                                     col(Certificate.revoked).is_(False))
                           .order_by(col(Certificate.id).desc()).limit(1)).scalar_one_or_none()


def claim_out(session: Session, claim: Claim) -> schemas.ClaimOut:
    facility = facility_of_claim(session, claim)
    covered = coverage(session, claim)
    found = current_verified(session, claim.facility_id, claim.period_start)
    certificate = current_certificate(session, claim)
    return schemas.ClaimOut(
        id=claim.public_id, facility=facility.public_id, facility_name=facility.name, region=facility.region,
        period_start=claim.period_start, period_end=claim.period_end, retire_by=retirement_deadline(claim.period_end),
        inventory=found[0].public_id if found else None, residual_kg=covered.residual_kg,
        covered_kg=covered.covered_kg, remaining_kg=covered.remaining_kg, reductions_kg=covered.reductions_kg,
        removals_kg=covered.removals_kg, cross_regional_kg=covered.cross_regional_kg,
        offsets=[schemas.OffsetLineOut(**line) for line in covered.lines],
        certificate=certificate.public_id if certificate else None)


def _status_reason(certificate: Certificate, status: CertificateStatus, current_residual_kg: int | None) -> str:
    if status == CertificateStatus.REVOKED:
        return certificate.revoked_reason
    if status == CertificateStatus.INSUFFICIENT:
        return (f"the inventory was restated to {current_residual_kg:,} kg, more than the "
                f"{certificate.covered_kg:,} kg this certificate covers; the factory must retire the difference "
                "and be certified again")
    if status == CertificateStatus.EXPIRED:
        return f"valid until {certificate.valid_until}"
    return ""


def certificate_row_out(row: Any) -> schemas.CertificateOut:
    certificate: Certificate = row[0]
    status = status_of(certificate, row.current_residual_kg)
    return schemas.CertificateOut(
        id=certificate.public_id, number=certificate.number, status=status.value,
        status_reason=_status_reason(certificate, status, row.current_residual_kg),
        facility=row.facility_public_id, facility_name=row.facility_name, party=row.party_public_id,
        party_name=row.party_name, region=certificate.region, period_start=certificate.period_start,
        period_end=certificate.period_end, residual_kg=certificate.residual_kg, covered_kg=certificate.covered_kg,
        valid_from=certificate.valid_from, valid_until=certificate.valid_until, issued_at=certificate.issued_at)


def certificate_detail(session: Session, public_id: str) -> schemas.CertificateDetailOut:
    certificate = get_certificate(session, public_id)
    row = session.execute(certificates_query(CertificateFilter()).where(col(Certificate.id) == certificate.id)).one()
    return schemas.CertificateDetailOut(**certificate_row_out(row).model_dump(), document=document_of(certificate),
                                        current_residual_kg=row.current_residual_kg)
