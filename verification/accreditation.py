"""Verifier accreditation: the registrar accredits a verification body with its public key, a
scope and a validity period; the body declares its ties; who may verify what follows from both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlmodel import Session, col

from methodologies.registry import list_methodologies
from registry import errors
from registry.ids import new_public_id
from registry.models import Party, Project, Role, get_by_public_id, pk, rows_changed
from registry.parties import get_party, require_role
from registry.regions import ANY, check_region
from verification.errors import ConflictOfInterest, NotAccredited, OutsideAccreditationScope, UnknownAccreditation
from verification.models import AccreditationScope, AccreditationStatus, Affiliation, VerifierAccreditation
from verification.statements import key_id_of, load_public_key
from verification.trail import record_event

# The scope entry that lets a verifier verify factories' emission inventories (netzero/), in place
# of a methodology id; `*` covers inventories too.
INVENTORY_SCOPE = "inventories"


@dataclass(frozen=True)
class Scope:
    methodology_id: str  # or "*"
    methodology_version: str | None  # None: every version
    region: str  # ISO 3166-2, or "*"


def parse_scope(methodologies: list[str], regions: list[str]) -> list[Scope]:
    """`CIR-PV-DG` (every version), `CIR-PV-DG@1.0`, `inventories` or `*`, times ISO 3166-2 regions
    or `*`; each methodology must be installed and each region a real subdivision code."""
    if not methodologies or not regions:
        raise errors.InvalidRequest("an accreditation names its methodologies and regions ('*' for any)")
    installed = {(m.id, m.version) for m in list_methodologies()}
    pairs: list[tuple[str, str | None]] = []
    for entry in sorted(set(methodologies)):
        methodology_id, _, version = entry.partition("@")
        if methodology_id not in (ANY, INVENTORY_SCOPE) and (methodology_id, version) not in installed and not (
                not version and any(m == methodology_id for m, _ in installed)):
            known = ", ".join(sorted({m for m, _ in installed}))
            raise errors.InvalidRequest(f"no methodology {entry!r} is installed (installed: {known}); write "
                                        f"CIR-PV-DG for every version, CIR-PV-DG@1.0 for one, {INVENTORY_SCOPE!r} "
                                        "for factories' emission inventories, or '*'")
        pairs.append((methodology_id, version or None))
    checked_regions = sorted({check_region(region, allow_any=True) for region in regions})
    return [Scope(m, v, r) for m, v in pairs for r in checked_regions]


def accredit_verifier(
    session: Session, registrar: Party, party_public_id: str, public_key_pem: str, methodologies: list[str],
    regions: list[str], valid_from: date, valid_until: date,
) -> VerifierAccreditation:
    require_role(registrar, Role.REGISTRAR)
    party = get_party(session, party_public_id)
    require_role(party, Role.VERIFIER)
    if valid_until < valid_from:
        raise errors.InvalidRequest("valid_until is before valid_from")
    scopes = parse_scope(methodologies, regions)
    try:
        raw_key = load_public_key(public_key_pem)
    except ValueError as exc:
        raise errors.InvalidRequest(str(exc)) from exc
    key_id = key_id_of(raw_key)
    same_key = select(col(VerifierAccreditation.id)).where(col(VerifierAccreditation.key_id) == key_id)
    if session.execute(same_key).first():
        raise errors.Conflict("this public key is already registered; each accreditation has its own key")
    accreditation = VerifierAccreditation(
        public_id=new_public_id("vac"), party_id=pk(party), public_key=raw_key, key_id=key_id,
        valid_from=valid_from, valid_until=valid_until,
    )
    session.add(accreditation)
    session.flush()
    session.add_all(AccreditationScope(accreditation_id=pk(accreditation), methodology_id=scope.methodology_id,
                                       methodology_version=scope.methodology_version, region=scope.region)
                    for scope in scopes)
    session.flush()
    session.refresh(accreditation)
    record_event(session, accreditation.public_id, registrar, "accredited", None, AccreditationStatus.ACTIVE.value,
                 f"{party.name}: {describe_scope(accreditation)}, {valid_from} to {valid_until}")
    return accreditation


def describe_scope(accreditation: VerifierAccreditation) -> str:
    return "; ".join(f"{s.methodology_id}{'@' + s.methodology_version if s.methodology_version else ''} in {s.region}"
                     for s in accreditation.scopes)


def get_accreditation(session: Session, public_id: str) -> VerifierAccreditation:
    return get_by_public_id(session, VerifierAccreditation, public_id,
                            lambda: UnknownAccreditation(f"no accreditation {public_id}"))


# Which status may follow which: a revoked accreditation stays revoked (accredit anew instead).
ACCREDITATION_TRANSITIONS = {
    AccreditationStatus.ACTIVE: {AccreditationStatus.SUSPENDED, AccreditationStatus.REVOKED},
    AccreditationStatus.SUSPENDED: {AccreditationStatus.ACTIVE, AccreditationStatus.REVOKED},
}


def set_accreditation_status(session: Session, registrar: Party, accreditation: VerifierAccreditation,
                             status: AccreditationStatus, reason: str) -> VerifierAccreditation:
    """Suspend (the verifier may neither take nor approve), reinstate, or revoke for good."""
    require_role(registrar, Role.REGISTRAR)
    if not reason.strip():
        raise errors.InvalidRequest("say why: the reason is public with the accreditation")
    before = accreditation.status
    if status not in ACCREDITATION_TRANSITIONS.get(AccreditationStatus(before), set()):
        raise errors.Conflict(f"accreditation {accreditation.public_id} is {before}; it cannot become {status.value}")
    result = session.execute(
        update(VerifierAccreditation)
        .where(col(VerifierAccreditation.id) == accreditation.id, col(VerifierAccreditation.status) == before)
        .values(status=status.value, status_reason=reason.strip(), status_changed_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        raise errors.Conflict(f"accreditation {accreditation.public_id} changed meanwhile; reload it")
    session.refresh(accreditation)
    record_event(session, accreditation.public_id, registrar, "status changed", before, status.value, reason.strip())
    return accreditation


def declare_affiliation(session: Session, verifier: Party, party_public_id: str) -> None:
    require_role(verifier, Role.VERIFIER)
    party = get_party(session, party_public_id)
    exists = session.execute(select(col(Affiliation.id)).where(
        col(Affiliation.verifier_party_id) == verifier.id, col(Affiliation.party_id) == party.id)).first()
    if exists is None:
        session.add(Affiliation(verifier_party_id=pk(verifier), party_id=pk(party)))
        record_event(session, verifier.public_id, verifier, "declared affiliation", note=party.public_id)


def check_may_verify(session: Session, verifier: Party, project: Project, on: date) -> VerifierAccreditation:
    """The verifier's active accreditation valid on `on` that covers the project; refuses conflicts."""
    return check_may_verify_for(session, verifier, on, project.methodology_id, project.methodology_version,
                                project.region, project.owner_party_id, f"{project.methodology_id} "
                                f"{project.methodology_version} in {project.region}")


def check_may_verify_for(session: Session, verifier: Party, on: date, scope_id: str, version: str | None,
                         region: str, owner_party_id: int, what: str) -> VerifierAccreditation:
    """The verifier's active accreditation valid on `on` covering `scope_id` (a methodology or
    `INVENTORY_SCOPE`) in `region`, for work of `owner_party_id`: neither its own nor an affiliate's."""
    require_role(verifier, Role.VERIFIER)
    accreditations = session.execute(select(VerifierAccreditation).where(
        col(VerifierAccreditation.party_id) == verifier.id,
        col(VerifierAccreditation.status) == AccreditationStatus.ACTIVE.value,
        col(VerifierAccreditation.valid_from) <= on, col(VerifierAccreditation.valid_until) >= on,
    )).scalars().all()
    if not accreditations:
        raise NotAccredited(f"{verifier.name} holds no active accreditation valid on {on}")
    in_scope = [a for a in accreditations if a.covers(scope_id, region, version)]
    if not in_scope:
        raise OutsideAccreditationScope(f"{verifier.name} is not accredited for {what}")
    if owner_party_id == verifier.id:
        raise ConflictOfInterest("a verifier may not verify its own work")
    affiliated = session.execute(select(col(Affiliation.id)).where(
        col(Affiliation.verifier_party_id) == verifier.id, col(Affiliation.party_id) == owner_party_id)).first()
    if affiliated is not None:
        raise ConflictOfInterest("the verifier declared an affiliation with the owner")
    return in_scope[0]


def may_verify_clause(verifier_id: int, on: date) -> ColumnElement[bool]:
    """`check_may_verify` as SQL over a query that joins `Project`: an active, valid accreditation
    of the verifier covers the project, which is not its own nor an affiliated party's."""
    return may_verify_clause_for(verifier_id, on, col(Project.methodology_id), col(Project.methodology_version),
                                 col(Project.region), col(Project.owner_party_id))


def may_verify_clause_for(verifier_id: int, on: date, scope_id: Any, version: Any | None, region: Any,
                          owner_party_id: Any) -> ColumnElement[bool]:
    """`check_may_verify_for` as SQL: the arguments are the columns (or values) of what is verified,
    its scope id (a methodology or `INVENTORY_SCOPE`), version (None: no version), region and owner."""
    version_matches: ColumnElement[bool] = col(AccreditationScope.methodology_version).is_(None)
    if version is not None:
        version_matches = or_(version_matches, col(AccreditationScope.methodology_version) == version)
    covering = (
        select(col(AccreditationScope.id))
        .join(VerifierAccreditation, col(VerifierAccreditation.id) == col(AccreditationScope.accreditation_id))
        .where(col(VerifierAccreditation.party_id) == verifier_id,
               col(VerifierAccreditation.status) == AccreditationStatus.ACTIVE.value,
               col(VerifierAccreditation.valid_from) <= on, col(VerifierAccreditation.valid_until) >= on,
               or_(col(AccreditationScope.methodology_id) == ANY, col(AccreditationScope.methodology_id) == scope_id),
               version_matches,
               or_(col(AccreditationScope.region) == ANY, col(AccreditationScope.region) == region))
    )
    affiliated = select(col(Affiliation.id)).where(col(Affiliation.verifier_party_id) == verifier_id,
                                                   col(Affiliation.party_id) == owner_party_id)
    return and_(exists(covering), owner_party_id != verifier_id, ~exists(affiliated))
