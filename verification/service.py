"""From meter to credit: project registration with assets, monitoring reports, verification by
an accredited verifier with a signed statement, and issuance.

Every step is a conditional status change (of two racing requests exactly one wins) and a
`WorkflowEvent` naming who did it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import rfc8785
from shapely.errors import GeometryTypeError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, update
from sqlmodel import Session, col

from methodologies.errors import InputDataError, MethodologyNotFound
from methodologies.loading import load_table
from methodologies.plugin import Methodology
from methodologies.registry import get_methodology
from registry import credits, errors
from registry.ids import new_public_id
from registry.models import Account, AccountKind, Party, Project, ProjectStatus, Role
from registry.service import (
    BUFFER_POOL_ACCOUNT,
    ProjectDetails,
    create_project,
    get_accounts,
    get_party,
    require_holder,
    require_role,
)
from registry.service import change_project_status as registry_change_project_status
from verification import errors as verrors
from verification.models import (
    Affiliation,
    AssetKind,
    ExternalRegistration,
    MonitoringReport,
    ProjectAsset,
    ProjectDocument,
    ReportStatus,
    VerificationStatement,
    VerifierAccreditation,
    WorkflowEvent,
)
from verification.statements import (
    STATEMENT_TYPE,
    STATEMENT_VERSION,
    BadSignature,
    key_id_of,
    load_public_key,
    statement_sha256,
    verify_statement_signature,
)

INACTIVE_PROJECT_STATUSES = {ProjectStatus.REJECTED, ProjectStatus.WITHDRAWN, ProjectStatus.COMPLETED}
# A statement signed further in the future than this is refused (clock skew allowance).
SIGNED_AT_SKEW = timedelta(minutes=5)


def record_event(session: Session, subject: str, actor: Party, action: str, from_status: str | None = None,
                 to_status: str | None = None, note: str = "") -> None:
    session.add(WorkflowEvent(subject=subject, actor_party_id=actor.id, action=action,  # type: ignore[arg-type]
                              from_status=from_status, to_status=to_status, note=note))


# --- verifiers --------------------------------------------------------------------------------


def accredit_verifier(
    session: Session, registrar: Party, party_public_id: str, public_key_pem: str, methodologies: list[str],
    regions: list[str], valid_from: date, valid_until: date,
) -> VerifierAccreditation:
    require_role(registrar, Role.REGISTRAR)
    party = get_party(session, party_public_id)
    require_role(party, Role.VERIFIER)
    if valid_until < valid_from:
        raise errors.InvalidRequest("valid_until is before valid_from")
    if not methodologies or not regions:
        raise errors.InvalidRequest("an accreditation names its methodologies and regions ('*' for any)")
    try:
        raw_key = load_public_key(public_key_pem)
    except ValueError as exc:
        raise errors.InvalidRequest(str(exc)) from exc
    key_id = key_id_of(raw_key)
    same_key = select(col(VerifierAccreditation.id)).where(col(VerifierAccreditation.key_id) == key_id)
    if session.execute(same_key).first():
        raise errors.Conflict("this public key is already registered; each accreditation has its own key")
    accreditation = VerifierAccreditation(
        public_id=new_public_id("vac"), party_id=party.id, public_key=raw_key, key_id=key_id,  # type: ignore[arg-type]
        methodologies=" ".join(sorted(set(methodologies))), regions=" ".join(sorted(set(regions))),
        valid_from=valid_from, valid_until=valid_until,
    )
    session.add(accreditation)
    session.flush()
    record_event(session, accreditation.public_id, registrar, "accredited", None, "active",
                 f"{party.name}: {accreditation.methodologies} in {accreditation.regions}, "
                 f"{valid_from} to {valid_until}")
    return accreditation


def declare_affiliation(session: Session, verifier: Party, party_public_id: str) -> None:
    require_role(verifier, Role.VERIFIER)
    party = get_party(session, party_public_id)
    exists = session.execute(select(col(Affiliation.id)).where(
        col(Affiliation.verifier_party_id) == verifier.id, col(Affiliation.party_id) == party.id)).first()
    if exists is None:
        session.add(Affiliation(verifier_party_id=verifier.id, party_id=party.id))  # type: ignore[arg-type]
        record_event(session, verifier.public_id, verifier, "declared affiliation", note=party.public_id)


def check_may_verify(session: Session, verifier: Party, project: Project, on: date) -> VerifierAccreditation:
    """The verifier's accreditation valid on `on` that covers the project; refuses conflicts."""
    require_role(verifier, Role.VERIFIER)
    accreditations = session.execute(select(VerifierAccreditation).where(
        col(VerifierAccreditation.party_id) == verifier.id, col(VerifierAccreditation.revoked_at).is_(None),
        col(VerifierAccreditation.valid_from) <= on, col(VerifierAccreditation.valid_until) >= on,
    )).scalars().all()
    if not accreditations:
        raise verrors.NotAccredited(f"{verifier.name} holds no accreditation valid on {on}")
    in_scope = [a for a in accreditations
                if {"*", project.methodology_id} & set(a.methodologies.split())
                and {"*", project.region} & set(a.regions.split())]
    if not in_scope:
        raise verrors.OutsideAccreditationScope(
            f"{verifier.name} is not accredited for {project.methodology_id} in {project.region}")
    if project.owner_party_id == verifier.id:
        raise verrors.ConflictOfInterest("a verifier may not verify its own project")
    affiliated = session.execute(select(col(Affiliation.id)).where(
        col(Affiliation.verifier_party_id) == verifier.id, col(Affiliation.party_id) == project.owner_party_id)).first()
    if affiliated is not None:
        raise verrors.ConflictOfInterest("the verifier declared an affiliation with the project's owner")
    return in_scope[0]


# --- projects and their assets ----------------------------------------------------------------


@dataclass(frozen=True)
class AssetSpec:
    kind: AssetKind
    identifier: str
    area_m2: int | None = None
    geometry: dict[str, Any] | None = None  # parcels: a GeoJSON Polygon in lon/lat


@dataclass(frozen=True)
class ExternalSpec:
    scheme: str
    identifier: str


@dataclass(frozen=True)
class DocumentSpec:
    title: str
    filename: str
    sha256: str
    bytes: int


# Green electricity certificates may coexist with carbon-inclusion credits when the certificate-
# claimed energy is deducted; any other programme crediting the same reductions may not.
GREEN_CERTIFICATE_SCHEME = "GEC"
# Parcels that share only a boundary do not overlap; this much shared area (in square degrees,
# about 1 m² at these latitudes) does.
OVERLAP_TOLERANCE_DEG2 = 1e-10


def _check_crediting_period(methodology: Methodology[Any], start: date | None, end: date | None) -> None:
    if start is None or end is None:
        raise verrors.CreditingPeriodInvalid("a project states its crediting period (start and end)")
    if end <= start:
        raise verrors.CreditingPeriodInvalid("the crediting period ends before it starts")
    years = methodology.max_crediting_years
    try:
        limit = start.replace(year=start.year + years)
    except ValueError:  # 29 February, and the year `years` on is not a leap year
        limit = start.replace(year=start.year + years, day=28)
    if end >= limit:
        raise verrors.CreditingPeriodInvalid(
            f"{methodology.id} credits at most {years} years: the period must end before {limit}")


def register_project(
    session: Session, actor: Party, details: ProjectDetails, assets: list[AssetSpec], owner: Party | None = None,
    external: list[ExternalSpec] | None = None, documents: list[DocumentSpec] | None = None,
) -> Project:
    """Create a draft project with its assets, its registrations in other programmes and its
    documents. Each asset must be free of every active project and of every programme the
    registrar imported; each external registration must be the project's alone."""
    methodology = get_methodology_or_invalid(details.methodology_id, details.methodology_version)
    _check_crediting_period(methodology, details.crediting_period_start, details.crediting_period_end)
    project = create_project(session, actor, details, owner)
    record_event(session, project.public_id, actor, "created", None, project.status)
    add_assets(session, actor, project, assets)
    _declare_external(session, project, external or [])
    for document in documents or []:
        session.add(ProjectDocument(project_id=project.id, title=document.title, filename=document.filename,  # type: ignore[arg-type]
                                    sha256=document.sha256, bytes=document.bytes))
    return project


def _declare_external(session: Session, project: Project, registrations: list[ExternalSpec]) -> None:
    for registration in registrations:
        scheme, identifier = registration.scheme.strip().upper(), registration.identifier.strip()
        if not scheme or not identifier:
            raise errors.InvalidRequest("an external registration names its scheme and identifier")
        rows = session.execute(
            select(ExternalRegistration, col(Project.public_id), col(Project.status))
            .outerjoin(Project, col(Project.id) == ExternalRegistration.project_id)
            .where(col(ExternalRegistration.scheme) == scheme, col(ExternalRegistration.identifier) == identifier)
        ).all()
        for existing, holder, status in rows:
            if existing.project_id is not None and status not in INACTIVE_PROJECT_STATUSES:
                raise verrors.ExternalRegistrationTaken(
                    f"{scheme} {identifier} is already declared by active project {holder}")
            if existing.project_id is None and scheme != GREEN_CERTIFICATE_SCHEME:
                raise verrors.CreditedElsewhere(
                    f"{scheme} {identifier} already credits these reductions (registrar's imported list"
                    f"{': ' + existing.note if existing.note else ''}); they cannot be credited twice")
        session.add(ExternalRegistration(scheme=scheme, identifier=identifier, project_id=project.id))


def import_external_registrations(session: Session, registrar: Party,
                                  entries: list[tuple[str, str, str, str]]) -> int:
    """The registrar's list of what other programmes credit: (scheme, identifier, what it is, note),
    where `what` is `project` or an asset kind. Returns how many were new."""
    require_role(registrar, Role.REGISTRAR)
    added = 0
    for scheme, identifier, what, note in entries:
        if what != "project" and what not in {k.value for k in AssetKind}:
            raise errors.InvalidRequest(f"{scheme} {identifier}: 'asset_kind' is project, meter, charger or parcel")
        known = session.execute(select(col(ExternalRegistration.id)).where(
            col(ExternalRegistration.scheme) == scheme.upper(), col(ExternalRegistration.identifier) == identifier,
            col(ExternalRegistration.project_id).is_(None))).first()
        if known is None:
            session.add(ExternalRegistration(scheme=scheme.upper(), identifier=identifier, asset_kind=what, note=note))
            added += 1
    record_event(session, "external-registrations", registrar, "imported", note=f"{added} new of {len(entries)}")
    return added


def _parcel_shape(asset: AssetSpec) -> BaseGeometry:
    if asset.geometry is None:
        raise errors.InvalidRequest(f"parcel {asset.identifier} needs its boundary (a GeoJSON Polygon)")
    try:
        polygon = shape(asset.geometry)
    except (GeometryTypeError, ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidRequest(f"parcel {asset.identifier}: not a GeoJSON geometry ({exc})") from exc
    if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid or polygon.area == 0:
        raise errors.InvalidRequest(f"parcel {asset.identifier}: the boundary must be a valid, non-empty polygon")
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    if not (max(abs(min_lon), abs(max_lon)) <= 180 and max(abs(min_lat), abs(max_lat)) <= 90):
        raise errors.InvalidRequest(f"parcel {asset.identifier}: coordinates are lon/lat in degrees (WGS 84)")
    return polygon


def _check_parcel_overlap(session: Session, identifier: str, polygon: BaseGeometry) -> None:
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    candidates = session.execute(
        select(col(ProjectAsset.identifier), col(ProjectAsset.geometry), col(Project.public_id))
        .join(Project, col(Project.id) == ProjectAsset.project_id)
        .where(col(ProjectAsset.kind) == AssetKind.PARCEL.value, col(ProjectAsset.active),
               col(ProjectAsset.min_lon) <= max_lon, col(ProjectAsset.max_lon) >= min_lon,
               col(ProjectAsset.min_lat) <= max_lat, col(ProjectAsset.max_lat) >= min_lat)
    ).all()
    for other, geometry, holder in candidates:
        if polygon.intersection(shape(json.loads(geometry))).area > OVERLAP_TOLERANCE_DEG2:
            raise verrors.AssetAlreadyRegistered(
                f"parcel {identifier} overlaps parcel {other} of active project {holder}")


def get_methodology_or_invalid(methodology_id: str, version: str) -> Methodology[Any]:
    try:
        return get_methodology(methodology_id, version)
    except MethodologyNotFound as exc:
        raise errors.InvalidRequest(f"no methodology {methodology_id} {version} is installed") from exc


def add_assets(session: Session, actor: Party, project: Project, assets: list[AssetSpec]) -> None:
    if project.owner_party_id != actor.id:
        require_role(actor, Role.REGISTRAR)
    if project.status not in (ProjectStatus.DRAFT, ProjectStatus.CHANGES_REQUESTED):
        raise errors.InvalidProjectTransition(f"assets are added while a project is a draft, not {project.status}")
    seen: set[tuple[str, str]] = set()
    shapes_added: list[BaseGeometry] = []
    for asset in assets:
        identifier = asset.identifier.strip()
        if not identifier or (asset.kind, identifier) in seen:
            raise errors.InvalidRequest(f"asset identifiers must be non-empty and listed once ({identifier!r})")
        seen.add((asset.kind, identifier))
        geometry: dict[str, Any] = {}
        if asset.kind == AssetKind.PARCEL:
            if not asset.area_m2:
                raise errors.InvalidRequest(f"parcel {identifier} needs its area_m2")
            polygon = _parcel_shape(asset)
            _check_parcel_overlap(session, identifier, polygon)
            for other in shapes_added:
                if polygon.intersection(other).area > OVERLAP_TOLERANCE_DEG2:
                    raise errors.InvalidRequest(f"parcel {identifier} overlaps another parcel of this request")
            shapes_added.append(polygon)
            min_lon, min_lat, max_lon, max_lat = polygon.bounds
            geometry = {"geometry": json.dumps(mapping(polygon)), "min_lon": min_lon, "min_lat": min_lat,
                        "max_lon": max_lon, "max_lat": max_lat}
        imported = session.execute(select(col(ExternalRegistration.scheme), col(ExternalRegistration.note)).where(
            col(ExternalRegistration.project_id).is_(None), col(ExternalRegistration.asset_kind) == asset.kind.value,
            col(ExternalRegistration.identifier) == identifier)).first()
        if imported is not None:
            raise verrors.CreditedElsewhere(
                f"{asset.kind.value} {identifier} is credited under {imported.scheme} (registrar's imported list"
                f"{': ' + imported.note if imported.note else ''})")
        holder = session.execute(
            select(col(Project.public_id), col(Project.name))
            .join(ProjectAsset, col(ProjectAsset.project_id) == Project.id)
            .where(col(ProjectAsset.kind) == asset.kind.value, col(ProjectAsset.identifier) == identifier,
                   col(ProjectAsset.active))
        ).first()
        if holder is not None:
            raise verrors.AssetAlreadyRegistered(
                f"{asset.kind.value} {identifier} is already in active project {holder.public_id} ({holder.name})")
        # The partial unique index refuses a racing duplicate even if this check passed.
        session.add(ProjectAsset(project_id=project.id, kind=asset.kind.value, identifier=identifier,  # type: ignore[arg-type]
                                 area_m2=asset.area_m2, **geometry))
    session.flush()
    if assets:
        record_event(session, project.public_id, actor, "assets added", note=", ".join(f"{k} {i}" for k, i in seen))


def change_project_status(session: Session, actor: Party, project: Project, new_status: ProjectStatus,
                          note: str = "") -> Project:
    """The registry's lifecycle, plus validation by accredited verifiers and asset release."""
    validator = False
    if Role.VERIFIER.value in actor.role_set and Role.REGISTRAR.value not in actor.role_set:
        check_may_verify(session, actor, project, datetime.now(UTC).date())
        validator = True
    before = project.status
    registry_change_project_status(session, actor, project, new_status, validator=validator)
    if new_status in INACTIVE_PROJECT_STATUSES:
        # A project that ends frees its meters, chargers and parcels for another project.
        session.execute(update(ProjectAsset).where(col(ProjectAsset.project_id) == project.id).values(active=False))
    record_event(session, project.public_id, actor, "status changed", before, new_status.value, note)
    return project


# --- monitoring reports -----------------------------------------------------------------------


def _quantify(project: Project, data_path: Path, data_filename: str, params: dict[str, Any], period_start: date,
              period_end: date, max_bytes: int) -> tuple[bytes, dict[str, Any]]:
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    try:
        data = load_table(data_path, methodology.input_schema, max_file_bytes=max_bytes, name=data_filename)
        quantification = methodology.quantify(data, params)
    except InputDataError as exc:
        raise verrors.MonitoringDataInvalid(str(exc)) from exc
    result = quantification.to_json()
    parsed: dict[str, Any] = json.loads(result)
    for vintage in parsed["vintages"]:
        first, last = date.fromisoformat(vintage["period_start"][:10]), date.fromisoformat(vintage["period_end"][:10])
        if first < period_start or last > period_end + timedelta(days=1):
            raise verrors.MonitoringDataInvalid(
                f"the data run from {vintage['period_start']} to {vintage['period_end']}, outside the monitoring "
                f"period {period_start} to {period_end}")
    return result, parsed


def _require_green_certificate_claims(session: Session, project: Project, params: dict[str, Any],
                                     parsed: dict[str, Any]) -> None:
    """A project that holds green electricity certificates states, for every vintage, the energy
    they claim (0 if none): that energy is deducted, never credited twice."""
    certificates = session.execute(select(col(ExternalRegistration.identifier)).where(
        col(ExternalRegistration.project_id) == project.id,
        col(ExternalRegistration.scheme) == GREEN_CERTIFICATE_SCHEME)).scalars().all()
    if not certificates:
        return
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    if "green_certificate_kwh_by_year" not in methodology.params_model.model_fields:
        raise verrors.MonitoringDataInvalid(
            f"the project holds green electricity certificates ({', '.join(certificates)}) but "
            f"{methodology.id} cannot deduct them")
    claimed = params.get("green_certificate_kwh_by_year") or {}
    missing = [str(v["vintage_year"]) for v in parsed["vintages"] if str(v["vintage_year"]) not in claimed]
    if missing:
        raise verrors.MonitoringDataInvalid(
            f"the project holds green electricity certificates ({', '.join(certificates)}): state the "
            f"certificate-claimed kWh for {', '.join(missing)} in green_certificate_kwh_by_year (0 if none)")


def _check_period(session: Session, project: Project, period_start: date, period_end: date,
                  report_id: int | None = None) -> None:
    if period_end < period_start:
        raise errors.InvalidRequest("the monitoring period ends before it starts")
    if project.crediting_period_start and project.crediting_period_end and not (
            project.crediting_period_start <= period_start and period_end <= project.crediting_period_end):
        raise errors.InvalidRequest(
            f"the monitoring period lies outside the crediting period {project.crediting_period_start} "
            f"to {project.crediting_period_end}")
    clash = session.execute(select(col(MonitoringReport.public_id), col(MonitoringReport.period_start),
                                   col(MonitoringReport.period_end)).where(
        col(MonitoringReport.project_id) == project.id, col(MonitoringReport.status) != ReportStatus.REJECTED.value,
        col(MonitoringReport.period_start) <= period_end, col(MonitoringReport.period_end) >= period_start,
        col(MonitoringReport.id) != (report_id or -1),
    )).first()
    if clash is not None:
        raise verrors.OverlappingMonitoringPeriod(
            f"report {clash.public_id} already covers {clash.period_start} to {clash.period_end}")


def create_report(
    session: Session, owner: Party, project: Project, period_start: date, period_end: date, data_path: Path,
    data_sha256: str, data_filename: str, params: dict[str, Any], issue_to_account: str, max_bytes: int,
) -> MonitoringReport:
    """Check the data, run the methodology and keep the result as a draft the owner can review."""
    if project.owner_party_id != owner.id:
        raise errors.NotAccountHolder(f"project {project.public_id} is not yours")
    if project.status != ProjectStatus.REGISTERED:
        raise errors.ProjectNotRegistered(f"project {project.public_id} is {project.status}, not registered")
    account = get_accounts(session, [issue_to_account])[issue_to_account]
    if account.kind != AccountKind.HOLDING:
        raise errors.InvalidRequest("credits are issued to one of the owner's holding accounts")
    require_holder(owner, account)
    _check_period(session, project, period_start, period_end)
    result, parsed = _quantify(project, data_path, data_filename, params, period_start, period_end, max_bytes)
    _require_green_certificate_claims(session, project, params, parsed)
    report = MonitoringReport(
        public_id=new_public_id("rpt"), project_id=project.id, period_start=period_start,  # type: ignore[arg-type]
        period_end=period_end, status=ReportStatus.DRAFT.value, data_sha256=data_sha256,
        data_filename=data_filename, data_bytes=data_path.stat().st_size, params_json=rfc8785.dumps(params),
        quantification_json=result, net_reduction_kg=parsed["totals"]["net_reduction_kg"],
        rejected_by_qa=parsed["rejected"], issue_to_account_id=account.id,
    )
    session.add(report)
    session.flush()
    record_event(session, report.public_id, owner, "created", None, report.status,
                 f"{data_filename} ({data_sha256[:12]}…), net {report.net_reduction_kg} kg")
    return report


def get_report(session: Session, public_id: str) -> MonitoringReport:
    report = session.execute(
        select(MonitoringReport).where(col(MonitoringReport.public_id) == public_id)).scalar_one_or_none()
    if report is None:
        raise verrors.UnknownReport(f"no monitoring report {public_id}")
    return report


def project_of(session: Session, report: MonitoringReport) -> Project:
    project = session.get(Project, report.project_id)
    assert project is not None
    return project


def require_report_reader(session: Session, actor: Party, report: MonitoringReport) -> None:
    """Owner, registrar, auditor, or a verifier (who must see submitted reports to take them)."""
    if actor.role_set & {Role.REGISTRAR.value, Role.AUDITOR.value, Role.VERIFIER.value}:
        return
    if project_of(session, report).owner_party_id != actor.id:
        raise verrors.UnknownReport(f"no monitoring report {report.public_id} of yours")


def _transition(session: Session, report: MonitoringReport, allowed_from: set[ReportStatus], to: ReportStatus,
                actor: Party, action: str, note: str = "", **values: Any) -> None:
    """Only one of two racing requests wins: the update is conditional on status and revision."""
    if report.status not in allowed_from:
        needed = " or ".join(sorted(s.value for s in allowed_from))
        raise verrors.InvalidReportTransition(
            f"report {report.public_id} is {report.status}; '{action}' needs it {needed}")
    result = session.execute(
        update(MonitoringReport)
        .where(col(MonitoringReport.id) == report.id, col(MonitoringReport.status) == report.status,
               col(MonitoringReport.revision) == report.revision)
        .values(status=to.value, updated_at=datetime.now(UTC), **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise verrors.InvalidReportTransition(f"report {report.public_id} changed meanwhile; reload it")
    before = report.status
    session.refresh(report)
    record_event(session, report.public_id, actor, action, before, to.value, note)


def replace_report_data(
    session: Session, owner: Party, report: MonitoringReport, data_path: Path, data_sha256: str,
    data_filename: str, params: dict[str, Any], max_bytes: int,
) -> MonitoringReport:
    project = project_of(session, report)
    if project.owner_party_id != owner.id:
        raise errors.NotAccountHolder(f"report {report.public_id} is not yours")
    result, parsed = _quantify(project, data_path, data_filename, params, report.period_start, report.period_end,
                               max_bytes)
    _require_green_certificate_claims(session, project, params, parsed)
    _transition(session, report, {ReportStatus.DRAFT, ReportStatus.CHANGES_REQUESTED}, ReportStatus.DRAFT, owner,
                "replaced data", f"{data_filename} ({data_sha256[:12]}…)", revision=report.revision + 1,
                data_sha256=data_sha256, data_filename=data_filename, data_bytes=data_path.stat().st_size,
                params_json=rfc8785.dumps(params), quantification_json=result,
                net_reduction_kg=parsed["totals"]["net_reduction_kg"], rejected_by_qa=parsed["rejected"])
    return report


def submit_report(session: Session, owner: Party, report: MonitoringReport) -> None:
    if project_of(session, report).owner_party_id != owner.id:
        raise errors.NotAccountHolder(f"report {report.public_id} is not yours")
    if report.rejected_by_qa:
        raise verrors.MonitoringDataInvalid("quality checks reject this data (see qa_findings); upload corrected data")
    _transition(session, report, {ReportStatus.DRAFT}, ReportStatus.SUBMITTED, owner, "submitted")


def start_verification(session: Session, verifier: Party, report: MonitoringReport) -> None:
    check_may_verify(session, verifier, project_of(session, report), datetime.now(UTC).date())
    _transition(session, report, {ReportStatus.SUBMITTED}, ReportStatus.UNDER_VERIFICATION, verifier,
                "verification started", verifier_party_id=verifier.id)


def _require_assigned(report: MonitoringReport, verifier: Party) -> None:
    if report.verifier_party_id != verifier.id:
        raise errors.PermissionDenied(f"report {report.public_id} is being verified by another verifier")


def comment(session: Session, actor: Party, report: MonitoringReport, text: str) -> None:
    require_report_reader(session, actor, report)
    if not text.strip():
        raise errors.InvalidRequest("a comment needs text")
    record_event(session, report.public_id, actor, "commented", note=text.strip())


def request_changes(session: Session, verifier: Party, report: MonitoringReport, note: str) -> None:
    _require_assigned(report, verifier)
    _transition(session, report, {ReportStatus.UNDER_VERIFICATION}, ReportStatus.CHANGES_REQUESTED, verifier,
                "changes requested", note)


def reject_report(session: Session, actor: Party, report: MonitoringReport, note: str) -> None:
    if Role.REGISTRAR.value not in actor.role_set:
        _require_assigned(report, actor)
    _transition(session, report, {ReportStatus.UNDER_VERIFICATION, ReportStatus.VERIFIED}, ReportStatus.REJECTED,
                actor, "rejected", note)


# --- statements, approval and issuance --------------------------------------------------------


def _quantification(report: MonitoringReport) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(report.quantification_json)
    return parsed


def statement_template(session: Session, verifier: Party, report: MonitoringReport) -> dict[str, Any]:
    """The statement the assigned verifier signs: everything fixed by the report, plus the
    quantities it certifies per vintage (at most the computed ones), its opinion and the time."""
    _require_assigned(report, verifier)
    accreditation = check_may_verify(session, verifier, project_of(session, report), datetime.now(UTC).date())
    fields = _statement_fields(session, report, verifier, accreditation)
    return fields | {
        "verified_kg": fields["computed_kg"],
        "opinion": "",
        "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _statement_fields(session: Session, report: MonitoringReport, verifier: Party,
                      accreditation: VerifierAccreditation) -> dict[str, Any]:
    """The fields a statement must repeat exactly, as the registry computed them."""
    project = project_of(session, report)
    parsed = _quantification(report)
    return {
        "type": STATEMENT_TYPE,
        "v": STATEMENT_VERSION,
        "report": report.public_id,
        "revision": report.revision,
        "project": project.public_id,
        "data_sha256": report.data_sha256,
        "input_fingerprint": parsed["input_fingerprint"],
        "methodology": {"id": parsed["methodology_id"], "version": parsed["methodology_version"]},
        "factors": parsed["factors"],
        "computed_kg": {str(v["vintage_year"]): v["net_reduction_kg"] for v in parsed["vintages"]},
        "findings": [{"code": f["code"], "severity": f["severity"], "count": f["count"]}
                     for f in parsed["qa_findings"]],
        "verifier": {"party": verifier.public_id, "key_id": accreditation.key_id},
    }


def _check_statement(statement: dict[str, Any], expected: dict[str, Any],
                     accreditation: VerifierAccreditation) -> dict[int, int]:
    if not isinstance(statement, dict):
        raise verrors.StatementInvalid("the statement is not a JSON object")
    for name, value in expected.items():
        if statement.get(name) != value:
            raise verrors.StatementInvalid(
                f"the statement's {name!r} does not match the report as it stands; fetch a new template")
    verified = statement.get("verified_kg")
    if not isinstance(verified, dict) or set(verified) != set(expected["computed_kg"]):
        raise verrors.StatementInvalid("verified_kg must name exactly the report's vintages")
    certified: dict[int, int] = {}
    for vintage, quantity in verified.items():
        computed = expected["computed_kg"][vintage]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= computed:
            raise verrors.StatementInvalid(
                f"verified_kg[{vintage}] must be a whole number from 0 to the computed {computed} kg: a verifier "
                "may certify less than the methodology computed, never more")
        certified[int(vintage)] = quantity
    if not isinstance(statement.get("opinion"), str):
        raise verrors.StatementInvalid("opinion must be text (it may be empty)")
    try:
        signed_at = datetime.strptime(str(statement.get("signed_at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise verrors.StatementInvalid("signed_at must be UTC time like 2026-01-31T08:00:00Z") from exc
    if signed_at > datetime.now(UTC) + SIGNED_AT_SKEW:
        raise verrors.StatementInvalid("signed_at is in the future")
    if not accreditation.valid_from <= signed_at.date() <= accreditation.valid_until:
        raise verrors.NotAccredited(
            f"the statement was signed on {signed_at.date()}, outside the accreditation "
            f"({accreditation.valid_from} to {accreditation.valid_until})")
    allowed = {*expected, "verified_kg", "opinion", "signed_at"}
    if set(statement) - allowed:
        raise verrors.StatementInvalid(f"unexpected fields {sorted(set(statement) - allowed)}")
    return certified


@dataclass
class Approval:
    statement_sha256: str
    issued: list[credits.Movement]


def approve_report(session: Session, verifier: Party, report: MonitoringReport, statement: dict[str, Any],
                   signature_b64: str, needs_registrar_approval: bool) -> Approval:
    """Accept the assigned verifier's signed statement; issue credits unless the registrar must
    approve too. Two verifiers racing to approve: the conditional transition lets one through."""
    _require_assigned(report, verifier)
    project = project_of(session, report)
    accreditation = check_may_verify(session, verifier, project, datetime.now(UTC).date())
    if report.status != ReportStatus.UNDER_VERIFICATION:
        raise verrors.InvalidReportTransition(f"report {report.public_id} is {report.status}; cannot approve")
    expected = _statement_fields(session, report, verifier, accreditation)
    certified = _check_statement(statement, expected, accreditation)
    try:
        signature = verify_statement_signature(accreditation.public_key, statement, signature_b64)
    except BadSignature as exc:
        raise verrors.StatementSignatureInvalid(str(exc)) from exc
    # A replay cannot pass: a statement names the report's revision, and an approved report never
    # returns to verification (new data make a new revision). The unique index on the statement's
    # hash backs this up.
    digest = statement_sha256(statement)
    _transition(session, report, {ReportStatus.UNDER_VERIFICATION}, ReportStatus.VERIFIED, verifier, "verified",
                str(statement["opinion"]))
    session.add(VerificationStatement(
        report_id=report.id, accreditation_id=accreditation.id, statement=rfc8785.dumps(statement),  # type: ignore[arg-type]
        signature=signature, sha256=digest, verified_kg=sum(certified.values())))
    session.flush()
    issued = [] if needs_registrar_approval else _issue(session, report, project, verifier)
    return Approval(digest, issued)


def issue_report(session: Session, registrar: Party, report: MonitoringReport) -> list[credits.Movement]:
    """The registrar's second approval, where configured: issue a verified report's credits."""
    require_role(registrar, Role.REGISTRAR)
    if report.status != ReportStatus.VERIFIED:
        raise verrors.InvalidReportTransition(f"report {report.public_id} is {report.status}, not verified")
    return _issue(session, report, project_of(session, report), registrar)


def _issue(session: Session, report: MonitoringReport, project: Project, issued_by: Party) -> list[credits.Movement]:
    statement_row = session.execute(
        select(VerificationStatement).where(col(VerificationStatement.report_id) == report.id)
        .order_by(col(VerificationStatement.id).desc())).scalars().first()
    assert statement_row is not None
    statement = json.loads(statement_row.statement)
    buffers = {v["vintage_year"]: v["deductions"]["buffer_kg"] for v in _quantification(report)["vintages"]}
    owner_account = session.execute(
        select(col(Account.public_id)).where(col(Account.id) == report.issue_to_account_id)).scalar_one()
    _transition(session, report, {ReportStatus.VERIFIED}, ReportStatus.ISSUED, issued_by, "credits issued")
    movements = []
    for vintage in sorted(statement["verified_kg"], key=int):
        quantity = statement["verified_kg"][vintage]
        if quantity > 0:
            movements.append(credits.record_issuance(
                session, issued_by, project, int(vintage), quantity, owner_account, statement_row.sha256)[1])
        if buffers.get(int(vintage), 0) > 0:  # the non-permanence share goes to the buffer pool
            movements.append(credits.record_issuance(
                session, issued_by, project, int(vintage), buffers[int(vintage)], BUFFER_POOL_ACCOUNT,
                statement_row.sha256)[1])
    return movements

