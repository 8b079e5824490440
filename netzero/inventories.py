"""Emission inventories: filed from activity data, calculated, verified by an accredited verifier who
signs a statement with its own key, exactly as for monitoring reports. A restatement is a new
version of the same facility and period, verified again.

Workflow: submitted → under_verification (a verifier takes it) → verified, changes_requested or
rejected; filing a new version supersedes a version still waiting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import rfc8785
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from netzero import calculation
from netzero.errors import (
    ActivityDataInvalid,
    GreenCertificateClaimed,
    InvalidInventoryTransition,
    ReportingPeriodInvalid,
    UnknownInventory,
)
from netzero.facilities import OVERSIGHT_ROLES, get_own_facility
from netzero.models import Facility, GreenCertificateClaim, Inventory, InventoryStatement, InventoryStatus
from registry import errors
from registry.ids import new_public_id
from registry.models import MAX_QUANTITY_KG, Party, Project, Role, get_by_public_id, pk, rows_changed
from verification.accreditation import INVENTORY_SCOPE, check_may_verify_for, may_verify_clause_for
from verification.errors import StatementInvalid, StatementSignatureInvalid
from verification.flows import check_opinion_and_signing_time
from verification.models import MonitoringReport, ReportStatus, VerifierAccreditation
from verification.statements import BadSignature, statement_sha256, verify_statement_signature
from verification.trail import record_event

STATEMENT_TYPE = "cir-inventory-statement"
STATEMENT_VERSION = 1
WAITING = (InventoryStatus.SUBMITTED, InventoryStatus.UNDER_VERIFICATION, InventoryStatus.CHANGES_REQUESTED)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day where it has fewer days (29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def check_reporting_period(period_start: date, period_end: date, today: date) -> None:
    """Twelve whole months (usually a calendar year), and over: an inventory reports what happened."""
    if add_months(period_start, 12) != date.fromordinal(period_end.toordinal() + 1):
        raise ReportingPeriodInvalid(
            f"a reporting period is 12 whole months: {period_start} to "
            f"{date.fromordinal(add_months(period_start, 12).toordinal() - 1)}, not to {period_end}")
    if period_end >= today:
        raise ReportingPeriodInvalid(f"the period ends {period_end}: file its inventory once it is over")


@dataclass(frozen=True)
class Emissions:
    """What an inventory says, in integer kg CO2e: scope 2 both location- and market-based."""

    scope1: int
    scope2_location: int
    scope2_market: int
    scope3: int
    total_location: int
    total_market: int
    residual: int
    renewable_share_bp: int

    def as_entry(self) -> dict[str, int]:
        return {"scope1": self.scope1, "scope2_location": self.scope2_location, "scope2_market": self.scope2_market,
                "scope3": self.scope3, "total_location": self.total_location, "total_market": self.total_market,
                "residual": self.residual}


def calculation_of(inventory: Inventory) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(inventory.calculation_json)
    return parsed


def emissions_of(inventory: Inventory) -> Emissions:
    return Emissions(**calculation_of(inventory)["summary"])


def file_inventory(session: Session, party: Party, facility_public_id: str, period_start: date, period_end: date,
                   data: bytes, data_sha256: str, filename: str) -> Inventory:
    """Calculate the activity data and file it as the next version for the facility and period."""
    facility = get_own_facility(session, party, facility_public_id)
    check_reporting_period(period_start, period_end, datetime.now(UTC).date())
    try:
        lines = calculation.parse_activity_data(data, filename)
        result = calculation.calculate_inventory(lines, region=facility.region, period_start=period_start,
                                                 period_end=period_end, boundary=facility.boundary)
    except calculation.ActivityDataInvalid as exc:
        raise ActivityDataInvalid(str(exc)) from exc
    # The facility row's lock makes two uploads for it take distinct version numbers.
    session.execute(select(col(Facility.id)).where(col(Facility.id) == facility.id).with_for_update())
    same_period = (col(Inventory.facility_id) == facility.id, col(Inventory.period_start) == period_start)
    version = session.execute(select(func.coalesce(func.max(col(Inventory.version)), 0))
                              .where(*same_period)).scalar_one() + 1
    session.execute(update(Inventory).where(*same_period, col(Inventory.status).in_([s.value for s in WAITING]))
                    .values(status=InventoryStatus.SUPERSEDED.value))
    summary = Emissions(result.scope1_kg, result.scope2_location_kg, result.scope2_market_kg, result.scope3_kg,
                        result.total_location_kg, result.total_market_kg, result.residual_kg,
                        result.renewable_share_bp)
    inventory = Inventory(
        public_id=new_public_id("inv"), facility_id=pk(facility), period_start=period_start, period_end=period_end,
        version=version, data_sha256=data_sha256, filename=filename[:200], residual_kg=result.residual_kg,
        calculation_json=json.dumps({"summary": summary.__dict__, "detail": result.as_dict()}, ensure_ascii=False),
        filed_by_party_id=pk(party))
    session.add(inventory)
    session.flush()
    _claim_green_certificates(session, facility, inventory, result.green_certificates)
    record_event(session, inventory.public_id, party, "filed", None, inventory.status,
                 f"version {version}: {filename} ({data_sha256[:12]}…), residual {result.residual_kg} kg")
    return inventory


def _claim_green_certificates(session: Session, facility: Facility, inventory: Inventory,
                              certificates: list[Any]) -> None:
    """Take the GEC ids over for this facility and period. One GEC is claimed once in the whole
    registry: the unique key refuses a second claimant even when two uploads race."""
    session.execute(delete(GreenCertificateClaim).where(
        col(GreenCertificateClaim.facility_id) == facility.id,
        col(GreenCertificateClaim.period_start) == inventory.period_start))
    rows = []
    for gec_id, mwh, generator in certificates:
        key = calculation.gec_key(gec_id)
        taken = session.execute(select(col(GreenCertificateClaim.id)).where(
            col(GreenCertificateClaim.gec_key) == key)).first()
        if taken is not None:
            raise GreenCertificateClaimed(
                f"green electricity certificate {gec_id} is already claimed by another inventory in this "
                "registry; a certificate counts once")
        generator_id = None
        if generator:
            generator_id = session.execute(select(col(Project.id)).where(col(Project.public_id) == generator)
                                           ).scalar_one_or_none()
            if generator_id is None:
                raise ActivityDataInvalid(
                    f"certificate {gec_id}: generator_project {generator} is not a project of this registry; "
                    "leave it empty for a generator registered elsewhere")
        rows.append(GreenCertificateClaim(gec_key=key, gec_id=gec_id, mwh_milli=int(mwh * 1000),
                                          facility_id=pk(facility), period_start=inventory.period_start,
                                          inventory_id=pk(inventory), generator_project_id=generator_id))
    try:
        with session.begin_nested():
            session.add_all(rows)
            session.flush()
    except IntegrityError as exc:
        raise GreenCertificateClaimed("a green electricity certificate of this file was claimed by another "
                                      "inventory meanwhile; a certificate counts once") from exc


def green_certificate_flags(session: Session, inventory: Inventory) -> list[str]:
    """GECs this inventory claims from a PV project of this registry whose reports do not show them
    deducted: the same MWh would count as the project's credits and as the factory's green power."""
    flags = []
    year = inventory.period_start.year
    first, last = date(year, 1, 1), date(year, 12, 31)
    rows = session.execute(
        select(GreenCertificateClaim, Project)
        .join(Project, col(Project.id) == col(GreenCertificateClaim.generator_project_id))
        .where(col(GreenCertificateClaim.inventory_id) == inventory.id)).all()
    for claim, project in rows:
        claimed_kwh = session.execute(
            select(func.coalesce(func.sum(col(GreenCertificateClaim.mwh_milli)), 0))
            .where(col(GreenCertificateClaim.generator_project_id) == project.id,
                   col(GreenCertificateClaim.period_start).between(first, last))).scalar_one()
        reports_params = session.execute(select(col(MonitoringReport.params_json)).where(
            col(MonitoringReport.project_id) == project.id,
            col(MonitoringReport.status) != ReportStatus.REJECTED.value)).scalars()
        deducted_kwh = sum(
            int(Decimal(str(json.loads(params).get("green_certificate_kwh_by_year", {}).get(str(year), 0))))
            for params in reports_params)
        if deducted_kwh < claimed_kwh:
            flags.append(f"green electricity certificate {claim.gec_id} comes from project {project.public_id} "
                         f"({project.name}), whose reports deduct {deducted_kwh:,} kWh of certificates for {year}, "
                         f"less than the {claimed_kwh:,} kWh claimed by inventories")
    return flags


# --- reading ----------------------------------------------------------------------------------


def get_inventory(session: Session, public_id: str) -> Inventory:
    return get_by_public_id(session, Inventory, public_id, lambda: UnknownInventory(f"no inventory {public_id}"))


def _verifier_may_see(verifier_id: int, on: date) -> ColumnElement[bool]:
    """An inventory a verifier may read: assigned to it, or waiting for a verifier it could be."""
    waiting = and_(col(Inventory.status) == InventoryStatus.SUBMITTED.value,
                   may_verify_clause_for(verifier_id, on, INVENTORY_SCOPE, None, col(Facility.region),
                                         col(Facility.party_id)))
    return or_(col(Inventory.verifier_party_id) == verifier_id, waiting)


def readable_inventories(reader: Party, facility: str | None = None, status: str | None = None,
                         waiting: bool = False) -> Any:
    """Authorization in the query: the holder's own, everything for registrar and auditors, and
    for a verifier what it is assigned or could take."""
    query = select(Inventory, Facility).join(Facility, col(Facility.id) == col(Inventory.facility_id))
    if reader.role_set & OVERSIGHT_ROLES:
        pass
    elif Role.VERIFIER.value in reader.role_set:
        query = query.where(or_(col(Facility.party_id) == reader.id,
                                _verifier_may_see(pk(reader), datetime.now(UTC).date())))
    else:
        query = query.where(col(Facility.party_id) == reader.id)
    if facility is not None:
        query = query.where(col(Facility.public_id) == facility)
    if status is not None:
        query = query.where(col(Inventory.status) == status)
    if waiting:
        query = query.where(col(Inventory.status) == InventoryStatus.SUBMITTED.value)
    return query.order_by(col(Inventory.id).desc())


def get_readable_inventory(session: Session, reader: Party, public_id: str) -> Inventory:
    row = session.execute(readable_inventories(reader).where(col(Inventory.public_id) == public_id)).first()
    if row is None:
        raise UnknownInventory(f"no inventory {public_id}")
    inventory: Inventory = row[0]
    return inventory


def facility_of(session: Session, inventory: Inventory) -> Facility:
    facility = session.get(Facility, inventory.facility_id)
    assert facility is not None
    return facility


def current_verified(session: Session, facility_id: int, period_start: date
                     ) -> tuple[Inventory, InventoryStatement] | None:
    """The highest verified version for the facility and period, and its statement: what a claim covers."""
    row = session.execute(
        select(Inventory, InventoryStatement)
        .join(InventoryStatement, col(InventoryStatement.inventory_id) == col(Inventory.id))
        .where(col(Inventory.facility_id) == facility_id, col(Inventory.period_start) == period_start,
               col(Inventory.status) == InventoryStatus.VERIFIED.value)
        .order_by(col(Inventory.version).desc()).limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def statement_of(session: Session, inventory: Inventory) -> InventoryStatement | None:
    return session.execute(select(InventoryStatement).where(
        col(InventoryStatement.inventory_id) == inventory.id)).scalar_one_or_none()


# --- verification -----------------------------------------------------------------------------


def _transition(session: Session, inventory: Inventory, allowed: set[InventoryStatus], to: InventoryStatus,
                actor: Party, action: str, note: str = "", **values: Any) -> None:
    """A conditional update on the status read: of two verifiers racing, one wins the transition."""
    before = inventory.status
    if before not in {s.value for s in allowed}:
        raise InvalidInventoryTransition(f"inventory {inventory.public_id} is {before}; it cannot be {action}")
    result = session.execute(update(Inventory).where(col(Inventory.id) == inventory.id,
                                                     col(Inventory.status) == before)
                             .values(status=to.value, **values))
    if rows_changed(result) != 1:
        raise InvalidInventoryTransition(f"inventory {inventory.public_id} changed meanwhile; reload it")
    session.refresh(inventory)
    record_event(session, inventory.public_id, actor, action, before, to.value, note)


def _may_verify(session: Session, verifier: Party, inventory: Inventory) -> VerifierAccreditation:
    facility = facility_of(session, inventory)
    return check_may_verify_for(session, verifier, datetime.now(UTC).date(), INVENTORY_SCOPE, None, facility.region,
                                facility.party_id, f"emission inventories in {facility.region}")


def _require_assigned(inventory: Inventory, verifier: Party) -> None:
    if inventory.verifier_party_id != verifier.id:
        raise errors.PermissionDenied(f"inventory {inventory.public_id} is not assigned to you")


def start_verification(session: Session, verifier: Party, inventory: Inventory) -> None:
    _may_verify(session, verifier, inventory)
    _transition(session, inventory, {InventoryStatus.SUBMITTED}, InventoryStatus.UNDER_VERIFICATION, verifier,
                "taken for verification", verifier_party_id=pk(verifier))


def request_changes(session: Session, verifier: Party, inventory: Inventory, comment: str) -> None:
    """Send the inventory back: the factory files a corrected version, which returns to this verifier."""
    _require_assigned(inventory, verifier)
    if not comment.strip():
        raise errors.InvalidRequest("say what must change")
    _transition(session, inventory, {InventoryStatus.UNDER_VERIFICATION}, InventoryStatus.CHANGES_REQUESTED,
                verifier, "changes requested", comment.strip(), comment=comment.strip())


def reject_inventory(session: Session, verifier: Party, inventory: Inventory, reason: str) -> None:
    _require_assigned(inventory, verifier)
    if not reason.strip():
        raise errors.InvalidRequest("say why the inventory is rejected")
    _transition(session, inventory, {InventoryStatus.UNDER_VERIFICATION}, InventoryStatus.REJECTED, verifier,
                "rejected", reason.strip(), comment=reason.strip())


def _statement_fields(session: Session, inventory: Inventory, verifier: Party,
                      accreditation: VerifierAccreditation) -> dict[str, Any]:
    """What the statement repeats exactly, as the registry calculated it."""
    facility = facility_of(session, inventory)
    owner = session.get(Party, facility.party_id)
    assert owner is not None
    emissions = emissions_of(inventory)
    detail = calculation_of(inventory)["detail"]
    return {
        "type": STATEMENT_TYPE,
        "v": STATEMENT_VERSION,
        "inventory": inventory.public_id,
        "version": inventory.version,
        "facility": {"id": facility.public_id, "name": facility.name, "region": facility.region,
                     "boundary": facility.boundary},
        "party": {"id": owner.public_id, "name": owner.name},
        "period": {"start": inventory.period_start.isoformat(), "end": inventory.period_end.isoformat()},
        "data_sha256": inventory.data_sha256,
        "emissions_kg": emissions.as_entry(),
        "renewable_electricity_share_bp": emissions.renewable_share_bp,
        "green_certificates": sorted(gec[0] for gec in detail["green_certificates"]),
        "factors": sorted({factor["factor_id"] for factor in detail["factors_used"]}),
        "verifier": {"party": verifier.public_id, "name": verifier.name, "key_id": accreditation.key_id},
    }


def statement_template(session: Session, verifier: Party, inventory: Inventory) -> dict[str, Any]:
    """The statement the assigned verifier signs: the inventory's figures, the residual it verifies
    (the computed one; it may raise it, never lower it), its opinion and the time."""
    _require_assigned(inventory, verifier)
    fields = _statement_fields(session, inventory, verifier, _may_verify(session, verifier, inventory))
    return fields | {"verified_residual_kg": inventory.residual_kg, "opinion": "",
                     "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _check_statement(statement: Any, expected: dict[str, Any], computed_residual_kg: int,
                     accreditation: VerifierAccreditation) -> int:
    if not isinstance(statement, dict):
        raise StatementInvalid("the statement is not a JSON object")
    for name, value in expected.items():
        if statement.get(name) != value:
            raise StatementInvalid(
                f"the statement's {name!r} does not match the inventory as it stands; fetch a new template")
    verified = statement.get("verified_residual_kg")
    if isinstance(verified, bool) or not isinstance(verified, int) or not (
            computed_residual_kg <= verified <= MAX_QUANTITY_KG):
        raise StatementInvalid(
            f"verified_residual_kg must be a whole number of at least the calculated {computed_residual_kg} kg: "
            "a verifier may find more emissions, never fewer (the factory restates its inventory instead)")
    check_opinion_and_signing_time(statement, accreditation)
    extra = set(statement) - {*expected, "verified_residual_kg", "opinion", "signed_at"}
    if extra:
        raise StatementInvalid(f"unexpected fields {sorted(extra)}")
    return verified


def approve_inventory(session: Session, verifier: Party, inventory: Inventory, statement: Any,
                      signature_b64: str) -> InventoryStatement:
    """Accept the assigned verifier's signed statement: the inventory is verified, and its verified
    residual is what a claim for the facility and period must cover from now on."""
    _require_assigned(inventory, verifier)
    accreditation = _may_verify(session, verifier, inventory)
    if inventory.status != InventoryStatus.UNDER_VERIFICATION:
        raise InvalidInventoryTransition(f"inventory {inventory.public_id} is {inventory.status}; cannot approve")
    expected = _statement_fields(session, inventory, verifier, accreditation)
    verified = _check_statement(statement, expected, inventory.residual_kg, accreditation)
    try:
        signature = verify_statement_signature(accreditation.public_key, statement, signature_b64)
    except BadSignature as exc:
        raise StatementSignatureInvalid(str(exc)) from exc
    _transition(session, inventory, {InventoryStatus.UNDER_VERIFICATION}, InventoryStatus.VERIFIED, verifier,
                "verified", str(statement["opinion"]))
    row = InventoryStatement(inventory_id=pk(inventory), accreditation_id=pk(accreditation),
                             statement=rfc8785.dumps(statement), signature=signature,
                             sha256=statement_sha256(statement), verified_residual_kg=verified)
    session.add(row)
    session.flush()
    return row
