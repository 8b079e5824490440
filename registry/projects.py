"""Projects as the registry keeps them: the table's rows, and the status rules credits depend on.

A project's public lifecycle (registration with its assets, validation by an accredited
verifier, the trail, freeing assets when it ends) is `verification.projects`; the two private
functions here are its primitives and have no other caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy import update
from sqlmodel import Session, col

from registry import errors
from registry.ids import new_public_id
from registry.models import Party, Project, ProjectStatus, Role, get_by_public_id, pk, rows_changed
from registry.parties import require_role

# Who may move a project from one status to the next.
OWNER_TRANSITIONS: dict[str, set[str]] = {
    ProjectStatus.DRAFT: {ProjectStatus.SUBMITTED, ProjectStatus.WITHDRAWN},
    ProjectStatus.CHANGES_REQUESTED: {ProjectStatus.SUBMITTED, ProjectStatus.WITHDRAWN},
    ProjectStatus.SUBMITTED: {ProjectStatus.WITHDRAWN},
    ProjectStatus.REGISTERED: {ProjectStatus.WITHDRAWN},
}
# Validation: the registrar, or an accredited verifier in scope (see `_change_status`).
VALIDATOR_TRANSITIONS: dict[str, set[str]] = {
    ProjectStatus.SUBMITTED: {ProjectStatus.UNDER_VALIDATION},
    ProjectStatus.UNDER_VALIDATION: {
        ProjectStatus.CHANGES_REQUESTED,
        ProjectStatus.REGISTERED,
        ProjectStatus.REJECTED,
    },
}
REGISTRAR_TRANSITIONS: dict[str, set[str]] = {
    **VALIDATOR_TRANSITIONS,
    ProjectStatus.REGISTERED: {ProjectStatus.SUSPENDED, ProjectStatus.COMPLETED},
    ProjectStatus.SUSPENDED: {ProjectStatus.REGISTERED, ProjectStatus.WITHDRAWN},
}
# A project in one of these has ended: its assets are free for another project.
INACTIVE_PROJECT_STATUSES = frozenset({ProjectStatus.REJECTED, ProjectStatus.WITHDRAWN, ProjectStatus.COMPLETED})


@dataclass(frozen=True)
class ProjectDetails:
    name: str
    methodology_id: str
    methodology_version: str
    region: str
    location: str
    latitude: float | None = None
    longitude: float | None = None
    capacity: float | None = None
    capacity_unit: str | None = None
    crediting_period_start: date | None = None
    crediting_period_end: date | None = None


class ValidatorAccreditation(Protocol):
    """What the registry needs of a verifier's accreditation to let it validate a project; the
    caller has already checked that it is valid today and that the verifier has no conflict."""

    @property
    def party_id(self) -> int: ...

    def covers(self, methodology_id: str, region: str) -> bool: ...


def get_project(session: Session, public_id: str) -> Project:
    return get_by_public_id(session, Project, public_id, lambda: errors.UnknownProject(f"no project {public_id}"))


def _insert_project(session: Session, actor: Party, details: ProjectDetails, owner: Party | None) -> Project:
    """A draft project for `owner` (default: the actor); only a registrar registers for another."""
    owner = owner or actor
    if owner.id != actor.id:
        require_role(actor, Role.REGISTRAR)
    require_role(owner, Role.PROJECT_OWNER)
    project = Project(public_id=new_public_id("prj"), owner_party_id=pk(owner), status=ProjectStatus.DRAFT.value,
                      **details.__dict__)
    session.add(project)
    session.flush()
    return project


def allowed_transitions(actor: Party, project: Project, accreditation: ValidatorAccreditation | None) -> set[str]:
    """The statuses `actor` may move the project to now."""
    current = project.status
    allowed: set[str] = set()
    if project.owner_party_id == actor.id:
        allowed |= OWNER_TRANSITIONS.get(current, set())
    if Role.REGISTRAR.value in actor.role_set:
        allowed |= REGISTRAR_TRANSITIONS.get(current, set())
    if (accreditation is not None and accreditation.party_id == actor.id
            and accreditation.covers(project.methodology_id, project.region)):
        allowed |= VALIDATOR_TRANSITIONS.get(current, set())
    return allowed


def _change_status(session: Session, actor: Party, project: Project, new_status: ProjectStatus,
                   accreditation: ValidatorAccreditation | None) -> None:
    """Only one of two racing changes wins: the update is conditional on the status it read."""
    current = project.status
    allowed = allowed_transitions(actor, project, accreditation)
    if new_status.value not in allowed:
        options = ", ".join(sorted(allowed)) or "none"
        raise errors.InvalidProjectTransition(
            f"you cannot move project {project.public_id} from {current} to {new_status.value} "
            f"(you may move it to: {options})")
    result = session.execute(
        update(Project)
        .where(col(Project.id) == project.id, col(Project.status) == current)
        .values(status=new_status.value)
    )
    if rows_changed(result) != 1:
        raise errors.InvalidProjectTransition(f"project {project.public_id} changed status meanwhile; reload")
    project.status = new_status.value
