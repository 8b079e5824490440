"""Read models of the verification workflow."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import Session, col

from registry.models import Party, Project
from verification import schemas
from verification.models import (
    MonitoringReport,
    ProjectAsset,
    ProjectDocument,
    VerifierAccreditation,
    WorkflowEvent,
)


def report_out(session: Session, report: MonitoringReport) -> schemas.ReportOut:
    project = session.get(Project, report.project_id)
    verifier = session.get(Party, report.verifier_party_id) if report.verifier_party_id else None
    assert project is not None
    return schemas.ReportOut(
        id=report.public_id, project=project.public_id, period_start=report.period_start,
        period_end=report.period_end, status=report.status, revision=report.revision,
        data_sha256=report.data_sha256, data_filename=report.data_filename, data_bytes=report.data_bytes,
        net_reduction_kg=report.net_reduction_kg, rejected_by_qa=report.rejected_by_qa,
        verifier=verifier.public_id if verifier else None, quantification=json.loads(report.quantification_json),
        created_at=report.created_at, updated_at=report.updated_at,
    )


def accreditation_out(session: Session, accreditation: VerifierAccreditation) -> schemas.AccreditationOut:
    party = session.get(Party, accreditation.party_id)
    assert party is not None
    return schemas.AccreditationOut(
        id=accreditation.public_id, party=party.public_id, party_name=party.name, key_id=accreditation.key_id,
        methodologies=accreditation.methodologies.split(), regions=accreditation.regions.split(),
        valid_from=accreditation.valid_from, valid_until=accreditation.valid_until,
    )


def list_accreditations(session: Session) -> list[schemas.AccreditationOut]:
    rows = session.execute(select(VerifierAccreditation).where(col(VerifierAccreditation.revoked_at).is_(None))
                           .order_by(col(VerifierAccreditation.id))).scalars().all()
    return [accreditation_out(session, a) for a in rows]


def project_assets(session: Session, project: Project) -> list[schemas.AssetOut]:
    rows = session.execute(select(ProjectAsset).where(col(ProjectAsset.project_id) == project.id)
                           .order_by(col(ProjectAsset.id))).scalars().all()
    return [schemas.AssetOut(kind=a.kind, identifier=a.identifier, area_m2=a.area_m2, active=a.active) for a in rows]


def project_documents(session: Session, project: Project) -> list[schemas.DocumentOut]:
    rows = session.execute(select(ProjectDocument).where(col(ProjectDocument.project_id) == project.id)
                           .order_by(col(ProjectDocument.id))).scalars().all()
    return [schemas.DocumentOut(title=d.title, filename=d.filename, sha256=d.sha256, bytes=d.bytes,
                                url=f"/api/v1/projects/{project.public_id}/documents/{d.sha256}") for d in rows]


def trail(session: Session, subjects: list[str], with_notes: bool) -> list[schemas.EventOut]:
    """Events about the given projects or reports, oldest first; notes only for insiders."""
    rows = session.execute(
        select(WorkflowEvent, col(Party.public_id), col(Party.name))
        .join(Party, col(Party.id) == WorkflowEvent.actor_party_id)
        .where(col(WorkflowEvent.subject).in_(subjects))
        .order_by(col(WorkflowEvent.id))
    ).all()
    return [schemas.EventOut(subject=e.subject, actor=actor, actor_name=name, action=e.action,
                             from_status=e.from_status, to_status=e.to_status,
                             note=e.note if with_notes else None, at=e.created_at) for e, actor, name in rows]


def project_trail_subjects(session: Session, project: Project) -> list[str]:
    reports = session.execute(select(col(MonitoringReport.public_id)).where(
        col(MonitoringReport.project_id) == project.id)).scalars().all()
    return [project.public_id, *reports]
