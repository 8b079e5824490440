"""Monitoring reports: one period of a project's data, checked and quantified on upload, then
submitted, taken by a verifier, sent back for changes, rejected or (see `verification.flows`)
approved. Every step is a conditional status change: of two racing requests exactly one wins."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import rfc8785
from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlmodel import Session, col

from methodologies.errors import MethodologyError
from methodologies.loading import load_table
from methodologies.plugin import AssetKind
from registry import errors
from registry.accounts import get_accounts, require_holder
from registry.ids import new_public_id
from registry.models import AccountKind, Party, Project, ProjectStatus, Role, get_by_public_id, pk, rows_changed
from verification.accreditation import check_may_verify, may_verify_clause
from verification.assets import check_report_assets, green_certificates, record_report_assets
from verification.errors import (
    InvalidReportTransition,
    MonitoringDataInvalid,
    OverlappingMonitoringPeriod,
    UnknownReport,
)
from verification.models import MonitoringReport, ReportStatus
from verification.projects import get_methodology_or_invalid
from verification.trail import record_event


@dataclass(frozen=True)
class _Quantified:
    result: bytes  # the quantification's canonical JSON, as stored
    parsed: dict[str, Any]
    asset_keys: set[str]


def _quantify(session: Session, project: Project, data_path: Path, data_filename: str, params: dict[str, Any],
              period_start: date, period_end: date, max_bytes: int, report_id: int | None = None) -> _Quantified:
    """Read the data, check that it belongs to this project and period, and run the methodology."""
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    try:
        data = load_table(data_path, methodology.input_schema, max_file_bytes=max_bytes, name=data_filename)
        identifiers = data[methodology.asset_column].dropna().astype(str).unique()
        asset_keys = check_report_assets(session, project, methodology.asset_kind, identifiers, period_start,
                                         period_end, report_id)
        quantification = methodology.quantify(data, params)
    except MethodologyError as exc:  # bad data, parameters the plugin refuses, a factor it lacks
        raise MonitoringDataInvalid(str(exc)) from exc
    result = quantification.to_json()
    parsed: dict[str, Any] = json.loads(result)
    uploaded_at = datetime.now(UTC)
    for vintage in parsed["vintages"]:
        if _as_instant(vintage["period_end"]) > uploaded_at:
            raise MonitoringDataInvalid(
                f"the data run to {vintage['period_end']}, after the upload ({uploaded_at:%Y-%m-%dT%H:%M:%SZ}): "
                "readings cannot be dated in the future")
        # The last interval ends at midnight after the period's last day, hence one day's allowance.
        first, last = date.fromisoformat(vintage["period_start"][:10]), date.fromisoformat(vintage["period_end"][:10])
        if first < period_start or last > period_end + timedelta(days=1):
            raise MonitoringDataInvalid(
                f"the data run from {vintage['period_start']} to {vintage['period_end']}, outside the monitoring "
                f"period {period_start} to {period_end}")
    return _Quantified(result, parsed, asset_keys)


def _as_instant(text: str) -> datetime:
    """A plugin's period bound: a timestamp with its offset, or a date (the start of that day, UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _require_green_certificate_claims(session: Session, project: Project, params: dict[str, Any],
                                     parsed: dict[str, Any]) -> None:
    """A project that holds green electricity certificates states, for every vintage, the energy
    they claim (0 if none): that energy is deducted, never credited twice."""
    certificates = green_certificates(session, project)
    if not certificates:
        return
    methodology = get_methodology_or_invalid(project.methodology_id, project.methodology_version)
    if "green_certificate_kwh_by_year" not in methodology.params_model.model_fields:
        raise MonitoringDataInvalid(
            f"the project holds green electricity certificates ({', '.join(certificates)}) but "
            f"{methodology.id} cannot deduct them")
    claimed = params.get("green_certificate_kwh_by_year") or {}
    missing = [str(v["vintage_year"]) for v in parsed["vintages"] if str(v["vintage_year"]) not in claimed]
    if missing:
        raise MonitoringDataInvalid(
            f"the project holds green electricity certificates ({', '.join(certificates)}): state the "
            f"certificate-claimed kWh for {', '.join(missing)} in green_certificate_kwh_by_year (0 if none)")


def _check_period(session: Session, project: Project, period_start: date, period_end: date) -> None:
    if period_end < period_start:
        raise errors.InvalidRequest("the monitoring period ends before it starts")
    today = datetime.now(UTC).date()
    if period_end >= today:
        raise errors.InvalidRequest(
            f"the monitoring period {period_start} to {period_end} has not ended: report it from "
            f"{period_end + timedelta(days=1)} (UTC) on")
    if project.crediting_period_start and project.crediting_period_end and not (
            project.crediting_period_start <= period_start and period_end <= project.crediting_period_end):
        raise errors.InvalidRequest(
            f"the monitoring period lies outside the crediting period {project.crediting_period_start} "
            f"to {project.crediting_period_end}")
    clash = session.execute(select(col(MonitoringReport.public_id), col(MonitoringReport.period_start),
                                   col(MonitoringReport.period_end)).where(
        col(MonitoringReport.project_id) == project.id, col(MonitoringReport.status) != ReportStatus.REJECTED.value,
        col(MonitoringReport.period_start) <= period_end, col(MonitoringReport.period_end) >= period_start,
    )).first()
    if clash is not None:
        raise OverlappingMonitoringPeriod(
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
    quantified = _quantify(session, project, data_path, data_filename, params, period_start, period_end, max_bytes)
    _require_green_certificate_claims(session, project, params, quantified.parsed)
    report = MonitoringReport(
        public_id=new_public_id("rpt"), project_id=pk(project), period_start=period_start,
        period_end=period_end, status=ReportStatus.DRAFT.value, data_sha256=data_sha256,
        data_filename=data_filename, data_bytes=data_path.stat().st_size, params_json=rfc8785.dumps(params),
        quantification_json=quantified.result, net_reduction_kg=quantified.parsed["totals"]["net_reduction_kg"],
        rejected_by_qa=quantified.parsed["rejected"], issue_to_account_id=account.id,
    )
    session.add(report)
    session.flush()
    record_report_assets(session, pk(report), _asset_kind(project), quantified.asset_keys)
    record_event(session, report.public_id, owner, "created", None, report.status,
                 f"{data_filename} ({data_sha256[:12]}…), net {report.net_reduction_kg} kg")
    return report


def get_report(session: Session, public_id: str) -> MonitoringReport:
    return get_by_public_id(session, MonitoringReport, public_id,
                            lambda: UnknownReport(f"no monitoring report {public_id}"))


def project_of(session: Session, report: MonitoringReport) -> Project:
    project = session.get(Project, report.project_id)
    if project is None:
        raise UnknownReport(f"report {report.public_id} names no project")
    return project


def readable_reports(actor: Party, on: date) -> Select[MonitoringReport]:
    """The reports `actor` may see, as a query (joined with `Project`), so that no list or lookup
    can forget the rule: the registrar and auditors see all; an owner its projects' reports; a
    verifier those assigned to it and, while a report waits for a verifier, each it may take."""
    query = select(MonitoringReport).join(Project, col(Project.id) == col(MonitoringReport.project_id))
    if actor.role_set & {Role.REGISTRAR.value, Role.AUDITOR.value}:
        return query
    visible = or_(col(Project.owner_party_id) == actor.id, col(MonitoringReport.verifier_party_id) == actor.id)
    if Role.VERIFIER.value in actor.role_set:
        visible = or_(visible, and_(waiting_for_a_verifier(), may_verify_clause(pk(actor), on)))
    return query.where(visible)


def waiting_for_a_verifier() -> ColumnElement[bool]:
    """Submitted and not yet anyone's: a report sent back for changes stays its verifier's."""
    return and_(col(MonitoringReport.status) == ReportStatus.SUBMITTED.value,
                col(MonitoringReport.verifier_party_id).is_(None))


def get_readable_report(session: Session, actor: Party, public_id: str) -> MonitoringReport:
    """The report if `actor` may see it; to anyone else it does not exist."""
    report = session.execute(readable_reports(actor, datetime.now(UTC).date())
                             .where(col(MonitoringReport.public_id) == public_id)).scalar_one_or_none()
    if report is None:
        raise UnknownReport(f"no monitoring report {public_id} that you may see")
    return report


def transition(session: Session, report: MonitoringReport, allowed_from: set[ReportStatus], to: ReportStatus,
               actor: Party, action: str, note: str = "", **values: Any) -> None:
    """Only one of two racing requests wins: the update is conditional on status and revision."""
    before, revision = report.status, report.revision  # read before the update: it refreshes the object
    if before not in allowed_from:
        needed = " or ".join(sorted(s.value for s in allowed_from))
        raise InvalidReportTransition(f"report {report.public_id} is {before}; '{action}' needs it {needed}")
    result = session.execute(
        update(MonitoringReport)
        .where(col(MonitoringReport.id) == report.id, col(MonitoringReport.status) == before,
               col(MonitoringReport.revision) == revision)
        .values(status=to.value, updated_at=datetime.now(UTC), **values)
    )
    if rows_changed(result) != 1:
        raise InvalidReportTransition(f"report {report.public_id} changed meanwhile; reload it")
    session.refresh(report)
    record_event(session, report.public_id, actor, action, before, to.value, note)


def replace_report_data(
    session: Session, owner: Party, report: MonitoringReport, data_path: Path, data_sha256: str,
    data_filename: str, params: dict[str, Any], max_bytes: int,
) -> MonitoringReport:
    project = project_of(session, report)
    if project.owner_party_id != owner.id:
        raise errors.NotAccountHolder(f"report {report.public_id} is not yours")
    quantified = _quantify(session, project, data_path, data_filename, params, report.period_start,
                           report.period_end, max_bytes, pk(report))
    _require_green_certificate_claims(session, project, params, quantified.parsed)
    transition(session, report, {ReportStatus.DRAFT, ReportStatus.CHANGES_REQUESTED}, ReportStatus.DRAFT, owner,
               "replaced data", f"{data_filename} ({data_sha256[:12]}…)", revision=report.revision + 1,
               data_sha256=data_sha256, data_filename=data_filename, data_bytes=data_path.stat().st_size,
               params_json=rfc8785.dumps(params), quantification_json=quantified.result,
               net_reduction_kg=quantified.parsed["totals"]["net_reduction_kg"],
               rejected_by_qa=quantified.parsed["rejected"])
    record_report_assets(session, pk(report), _asset_kind(project), quantified.asset_keys)
    return report


def _asset_kind(project: Project) -> AssetKind:
    return get_methodology_or_invalid(project.methodology_id, project.methodology_version).asset_kind


def submit_report(session: Session, owner: Party, report: MonitoringReport) -> None:
    if project_of(session, report).owner_party_id != owner.id:
        raise errors.NotAccountHolder(f"report {report.public_id} is not yours")
    if report.rejected_by_qa:
        raise MonitoringDataInvalid("quality checks reject this data (see qa_findings); upload corrected data")
    transition(session, report, {ReportStatus.DRAFT}, ReportStatus.SUBMITTED, owner, "submitted")


def start_verification(session: Session, verifier: Party, report: MonitoringReport) -> None:
    """Take a submitted report. One its verifier sent back for changes returns to that verifier."""
    check_may_verify(session, verifier, project_of(session, report), datetime.now(UTC).date())
    if report.verifier_party_id not in (None, verifier.id):
        raise errors.PermissionDenied(
            f"report {report.public_id} went back to its owner for changes; it returns to the verifier who asked")
    transition(session, report, {ReportStatus.SUBMITTED}, ReportStatus.UNDER_VERIFICATION, verifier,
               "verification started", verifier_party_id=verifier.id)


def require_assigned(report: MonitoringReport, verifier: Party) -> None:
    if report.verifier_party_id != verifier.id:
        raise errors.PermissionDenied(f"report {report.public_id} is being verified by another verifier")


def comment(session: Session, actor: Party, report: MonitoringReport, text: str) -> None:
    get_readable_report(session, actor, report.public_id)
    if not text.strip():
        raise errors.InvalidRequest("a comment needs text")
    record_event(session, report.public_id, actor, "commented", note=text.strip())


def request_changes(session: Session, verifier: Party, report: MonitoringReport, note: str) -> None:
    require_assigned(report, verifier)
    transition(session, report, {ReportStatus.UNDER_VERIFICATION}, ReportStatus.CHANGES_REQUESTED, verifier,
               "changes requested", note)


def reject_report(session: Session, actor: Party, report: MonitoringReport, note: str) -> None:
    if Role.REGISTRAR.value not in actor.role_set:
        require_assigned(report, actor)
    transition(session, report, {ReportStatus.UNDER_VERIFICATION, ReportStatus.VERIFIED}, ReportStatus.REJECTED,
               actor, "rejected", note)
