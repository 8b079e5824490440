"""A project's lifecycle, in one place: registration with its assets, registrations elsewhere
and documents; validation by the registrar or an accredited verifier; the trail of each step;
and freeing the assets when the project ends. `change_project_status` is the one way to move a
project on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from methodologies.errors import MethodologyNotFound
from methodologies.plugin import Methodology
from methodologies.registry import get_methodology
from registry import errors
from registry.models import Party, Project, ProjectStatus, Role, pk
from registry.parties import require_role
from registry.projects import (
    INACTIVE_PROJECT_STATUSES,
    ProjectDetails,
    ValidatorAccreditation,
    _change_status,
    _insert_project,
)
from verification.accreditation import check_may_verify
from verification.assets import AssetSpec, ExternalSpec, add_assets, declare_external, release_assets
from verification.errors import CreditingPeriodInvalid, ValidationReportMissing
from verification.models import DocumentKind, ProjectDocument
from verification.trail import record_event


@dataclass(frozen=True)
class DocumentSpec:
    title: str
    filename: str
    sha256: str
    bytes: int
    kind: DocumentKind = DocumentKind.OTHER


def get_methodology_or_invalid(methodology_id: str, version: str) -> Methodology[Any]:
    try:
        return get_methodology(methodology_id, version)
    except MethodologyNotFound as exc:
        raise errors.InvalidRequest(f"no methodology {methodology_id} {version} is installed") from exc


def _check_crediting_period(methodology: Methodology[Any], start: date | None, end: date | None) -> None:
    if start is None or end is None:
        raise CreditingPeriodInvalid("a project states its crediting period (start and end)")
    if end <= start:
        raise CreditingPeriodInvalid("the crediting period ends before it starts")
    years = methodology.max_crediting_years
    try:
        limit = start.replace(year=start.year + years)
    except ValueError:  # 29 February, and the year `years` on is not a leap year
        limit = start.replace(year=start.year + years, day=28)
    if end >= limit:
        raise CreditingPeriodInvalid(
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
    project = _insert_project(session, actor, details, owner)
    record_event(session, project.public_id, actor, "created", None, project.status)
    add_assets(session, actor, project, assets)
    declare_external(session, project, external or [])
    for document in documents or []:
        file_document(session, actor, project, document)
    return project


def file_document(session: Session, actor: Party, project: Project, document: DocumentSpec) -> ProjectDocument:
    """File an uploaded document with a project. The owner files its design, permits and others
    while the project is a draft (or changes were requested); the validator files its validation
    report while the project is under validation."""
    if document.kind == DocumentKind.VALIDATION_REPORT:
        if project.status != ProjectStatus.UNDER_VALIDATION:
            raise errors.InvalidProjectTransition(
                f"a validation report is filed while the project is under validation, not {project.status}")
        _validator_accreditation(session, actor, project)
        if Role.REGISTRAR.value not in actor.role_set and Role.VERIFIER.value not in actor.role_set:
            raise errors.RoleRequired("the validation report is the registrar's or an accredited verifier's")
    else:
        if project.owner_party_id != actor.id:
            require_role(actor, Role.REGISTRAR)
        if project.status not in (ProjectStatus.DRAFT, ProjectStatus.CHANGES_REQUESTED):
            raise errors.InvalidProjectTransition(
                f"the owner files documents while the project is a draft, not {project.status}")
    row = ProjectDocument(project_id=pk(project), kind=document.kind.value, title=document.title,
                          filename=document.filename, sha256=document.sha256, bytes=document.bytes,
                          filed_by_party_id=pk(actor))
    session.add(row)
    session.flush()
    record_event(session, project.public_id, actor, "document filed", note=f"{document.kind.value}: {document.title}")
    return row


def _validator_accreditation(session: Session, actor: Party, project: Project) -> ValidatorAccreditation | None:
    """A verifier (not the registrar, not acting as the project's owner) validates under an
    accreditation that covers the project, without a conflict of interest; conflicts are checked
    on verifier actions only."""
    if Role.VERIFIER.value in actor.role_set and Role.REGISTRAR.value not in actor.role_set \
            and project.owner_party_id != actor.id:
        return check_may_verify(session, actor, project, datetime.now(UTC).date())
    return None


def change_project_status(session: Session, actor: Party, project: Project, new_status: ProjectStatus,
                          note: str = "") -> Project:
    """Move a project on: owners submit and withdraw; the registrar, or an accredited verifier in
    scope and without a conflict of interest, validates; the registrar suspends and completes.
    Of two racing changes one wins. An ended project frees its assets; every step joins the trail."""
    accreditation = _validator_accreditation(session, actor, project)
    if new_status == ProjectStatus.REGISTERED and project.status == ProjectStatus.UNDER_VALIDATION \
            and not _has_validation_report(session, project):
        raise ValidationReportMissing(
            f"project {project.public_id} has no validation report: file one (kind validation_report) first")
    before = project.status
    _change_status(session, actor, project, new_status, accreditation)
    if new_status in INACTIVE_PROJECT_STATUSES:
        release_assets(session, project)
    record_event(session, project.public_id, actor, "status changed", before, new_status.value, note)
    return project


def _has_validation_report(session: Session, project: Project) -> bool:
    return session.execute(select(col(ProjectDocument.id)).where(
        col(ProjectDocument.project_id) == project.id,
        col(ProjectDocument.kind) == DocumentKind.VALIDATION_REPORT.value)).first() is not None
