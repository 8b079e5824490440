"""Read models of the verification workflow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from registry.models import Party, Project, pk
from registry.queries import page, public_name
from registry.schemas import Page
from verification import reports, schemas
from verification.accreditation import may_verify_clause
from verification.errors import UnknownAccreditation, UnknownBlob, UnknownReport
from verification.models import (
    AccreditationStatus,
    MonitoringReport,
    ProjectAsset,
    ProjectDocument,
    VerifierAccreditation,
    WorkflowEvent,
)
from verification.statements import raw_public_key_pem


@dataclass(frozen=True)
class ReportFilters:
    status: str | None = None
    methodology_id: str | None = None
    region: str | None = None
    project: str | None = None
    assigned_to_me: bool = False
    waiting: bool = False  # submitted, and mine to take


def list_reports(session: Session, actor: Party, filters: ReportFilters, cursor: str | None,
                 limit: int) -> Page[schemas.ReportOut]:
    """The reports the actor may see, filtered: a verifier's queue is `waiting` plus `assigned_to_me`."""
    today = datetime.now(UTC).date()
    query = reports.readable_reports(actor, today)
    if filters.status is not None:
        query = query.where(col(MonitoringReport.status) == filters.status)
    if filters.methodology_id is not None:
        query = query.where(col(Project.methodology_id) == filters.methodology_id)
    if filters.region is not None:
        query = query.where(col(Project.region) == filters.region)
    if filters.project is not None:
        query = query.where(col(Project.public_id) == filters.project)
    if filters.assigned_to_me:
        query = query.where(col(MonitoringReport.verifier_party_id) == actor.id)
    if filters.waiting:
        query = query.where(reports.waiting_for_a_verifier(), may_verify_clause(pk(actor), today))
    rows, next_cursor = page(session, query, col(MonitoringReport.id), cursor, limit)
    return Page(items=[report_out(session, row[0]) for row in rows], next_cursor=next_cursor)


def report_out(session: Session, report: MonitoringReport) -> schemas.ReportOut:
    project = reports.project_of(session, report)
    owner = session.get(Party, project.owner_party_id)
    verifier = session.get(Party, report.verifier_party_id) if report.verifier_party_id else None
    if owner is None:
        raise UnknownReport(f"report {report.public_id} names no owner")
    return schemas.ReportOut(
        id=report.public_id, project=project.public_id, project_name=project.name,
        methodology_id=project.methodology_id, methodology_version=project.methodology_version, region=project.region,
        owner=owner.public_id, owner_name=owner.name, period_start=report.period_start,
        period_end=report.period_end, status=report.status, revision=report.revision,
        data_sha256=report.data_sha256, data_filename=report.data_filename, data_bytes=report.data_bytes,
        net_reduction_kg=report.net_reduction_kg, rejected_by_qa=report.rejected_by_qa,
        verifier=verifier.public_id if verifier else None, quantification=json.loads(report.quantification_json),
        created_at=report.created_at, updated_at=report.updated_at,
    )


def accreditation_out(session: Session, accreditation: VerifierAccreditation) -> schemas.AccreditationOut:
    party = session.get(Party, accreditation.party_id)
    if party is None:
        raise UnknownAccreditation(f"accreditation {accreditation.public_id} names no party")
    return schemas.AccreditationOut(
        id=accreditation.public_id, party=party.public_id, party_name=party.name, key_id=accreditation.key_id,
        public_key_pem=raw_public_key_pem(accreditation.public_key),
        scope=[schemas.ScopeOut(methodology_id=s.methodology_id, methodology_version=s.methodology_version,
                                region=s.region) for s in accreditation.scopes],
        valid_from=accreditation.valid_from, valid_until=accreditation.valid_until,
        status=AccreditationStatus(accreditation.status), status_reason=accreditation.status_reason,
    )


def list_accreditations(session: Session) -> list[schemas.AccreditationOut]:
    """Every accreditation, suspended and revoked ones too: the public should know."""
    rows = session.execute(select(VerifierAccreditation).order_by(col(VerifierAccreditation.id))).scalars().all()
    return [accreditation_out(session, a) for a in rows]


def project_assets(session: Session, project: Project) -> list[schemas.AssetOut]:
    rows = session.execute(select(ProjectAsset).where(col(ProjectAsset.project_id) == project.id)
                           .order_by(col(ProjectAsset.id))).scalars().all()
    return [schemas.AssetOut(kind=a.kind, identifier=a.identifier, area_m2=a.area_m2, active=a.active) for a in rows]


def project_documents(session: Session, project: Project) -> list[schemas.DocumentOut]:
    rows = session.execute(select(ProjectDocument).where(col(ProjectDocument.project_id) == project.id)
                           .order_by(col(ProjectDocument.id))).scalars().all()
    filers = dict(session.execute(select(col(Party.id), col(Party.public_id)).where(
        col(Party.id).in_({d.filed_by_party_id for d in rows if d.filed_by_party_id}))).all())
    return [schemas.DocumentOut(kind=d.kind, title=d.title, filename=d.filename, sha256=d.sha256, bytes=d.bytes,
                                filed_by=filers.get(d.filed_by_party_id) if d.filed_by_party_id else None,
                                url=f"/api/v1/projects/{project.public_id}/documents/{d.sha256}") for d in rows]


def project_document(session: Session, project: Project, sha256: str) -> ProjectDocument:
    """A document filed with the project; any other blob is not the project's to serve."""
    document = session.execute(select(ProjectDocument).where(
        col(ProjectDocument.project_id) == project.id, col(ProjectDocument.sha256) == sha256)).scalars().first()
    if document is None:
        raise UnknownBlob(f"project {project.public_id} has no document {sha256}")
    return document


def trail(session: Session, subjects: list[str], with_notes: bool) -> list[schemas.EventOut]:
    """Events about the given projects or reports, oldest first; notes, and an individual's full
    name, only for insiders."""
    rows = session.execute(
        select(WorkflowEvent, col(Party.public_id), col(Party.name), col(Party.kind))
        .join(Party, col(Party.id) == WorkflowEvent.actor_party_id)
        .where(col(WorkflowEvent.subject).in_(subjects))
        .order_by(col(WorkflowEvent.id))
    ).all()
    return [schemas.EventOut(subject=e.subject, actor=actor, actor_name=name if with_notes else public_name(name, kind),
                             action=e.action, from_status=e.from_status, to_status=e.to_status,
                             note=e.note if with_notes else None, at=e.created_at) for e, actor, name, kind in rows]


def project_trail_subjects(session: Session, project: Project) -> list[str]:
    reports = session.execute(select(col(MonitoringReport.public_id)).where(
        col(MonitoringReport.project_id) == project.id)).scalars().all()
    return [project.public_id, *reports]
