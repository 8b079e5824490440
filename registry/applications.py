"""Applying for an account: a household (or an organisation) asks to join, the registrar decides,
and the applicant collects its API key with the claim code it was given.

There is no e-mail: the applicant is handed a reference and a one-time claim code when it applies
(only the code's SHA-256 is stored), and comes back with both to see the decision and, once
approved, to claim its key. Contact details are personal data under PIPL: only the registrar reads
them, and an individual's name is shown to anyone else masked (`registry.queries.public_name`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlmodel import Session, col

from registry import errors, schemas
from registry.accounts import open_account
from registry.ids import new_public_id
from registry.models import (
    ApplicationStatus,
    Party,
    PartyApplication,
    PartyKind,
    Role,
    get_by_public_id,
    pk,
    rows_changed,
)
from registry.parties import create_party, issue_operator_api_key, require_role
from registry.queries import page, public_name
from registry.regions import check_region

# What an applicant may become: a registrar, verifier or auditor is appointed, never self-proposed.
APPLICANT_ROLES = (Role.PROJECT_OWNER, Role.BUYER)
NAME_MAX, ADDRESS_MAX, PHONE_MAX, EMAIL_MAX, DESCRIPTION_MAX, REASON_MAX = 200, 300, 20, 254, 500, 2000
# A telephone number as people write it: an optional +, then 7 to 15 digits with spaces or hyphens.
PHONE_SHAPE = re.compile(r"\+?[0-9](?:[ -]?[0-9]){6,14}")
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
# Control characters never belong in a name or an address (PostgreSQL refuses NUL outright);
# a description or an address may run over lines.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
# The claim code: 28 symbols of 32 (140 random bits), without 0/O and 1/I, written in groups of four.
CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CLAIM_LENGTH = 28
MAIN_ACCOUNT = "Main"


@dataclass(frozen=True)
class ApplicationDetails:
    """What the applicant typed, as typed: `check_application` says what is wrong with it."""

    name: str
    kind: str
    region: str
    address: str
    phone: str | None
    email: str | None
    role: str
    description: str
    consent: bool


def _text(value: str | None) -> str:
    return (value or "").strip()


def check_application(details: ApplicationDetails) -> tuple[ApplicationDetails, dict[str, str]]:
    """The details tidied (spaces trimmed, empty contacts as None), and a problem for each field that
    breaks a rule, by field name: a form shows each next to its field."""
    problems: dict[str, str] = {}
    name, address, description = _text(details.name), _text(details.address), _text(details.description)
    phone, email, region = _text(details.phone) or None, _text(details.email) or None, _text(details.region)
    for field, value, limit, what in (("name", name, NAME_MAX, "the applicant's name"),
                                      ("address", address, ADDRESS_MAX, "the address"),
                                      ("description", description, DESCRIPTION_MAX, "what you will register")):
        if not value:
            problems[field] = f"Enter {what}"
        elif len(value) > limit:
            problems[field] = f"Shorten {what} to at most {limit} characters"
        elif CONTROL.search(value.replace("\n", " ") if field != "name" else value):
            problems[field] = f"Remove the control characters from {what}"
    if details.kind not in {k.value for k in PartyKind}:
        problems["kind"] = "Choose individual (a household) or organisation"
    if details.role not in {r.value for r in APPLICANT_ROLES}:
        problems["role"] = "Choose project owner (you register reductions) or buyer (you buy and retire credits)"
    if not region:
        problems["region"] = "Enter the region as an ISO 3166-2 code, like CN-JS for Jiangsu"
    else:
        try:
            check_region(region)
        except errors.InvalidRequest as exc:
            problems["region"] = exc.message
    if phone is None and email is None:
        problems["phone"] = "Give a phone number or an e-mail address, so that the registrar can reach you"
    if phone is not None and (len(phone) > PHONE_MAX or not PHONE_SHAPE.fullmatch(phone)):
        problems["phone"] = "Enter a phone number of 7 to 15 digits, like 138 1234 5678 or +86 512 6666 8888"
    if email is not None and (len(email) > EMAIL_MAX or not EMAIL_SHAPE.fullmatch(email)):
        problems["email"] = "Enter an e-mail address like name@example.com"
    if details.consent is not True:
        problems["consent"] = "Agree to the processing of your personal data, or the registry cannot take the " \
                              "application"
    tidy = ApplicationDetails(name, details.kind, region, address, phone, email, details.role, description,
                              details.consent)
    return tidy, problems


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalise_claim_code(code).encode()).hexdigest()


def normalise_claim_code(code: str) -> str:
    """The code as typed, without the spaces and hyphens that group it, in capitals."""
    return re.sub(r"[\s-]", "", code).upper()


def format_claim_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True)
class Receipt:
    application: PartyApplication
    claim_code: str  # shown to the applicant once; only its SHA-256 is kept


def submit_application(session: Session, details: ApplicationDetails) -> Receipt:
    """Anyone may apply. Every field is checked at once; the refusal names each one that is wrong."""
    tidy, problems = check_application(details)
    if problems:
        raise errors.InvalidApplication("; ".join(f"{field}: {message}" for field, message in problems.items()),
                                        problems)
    code = "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(CLAIM_LENGTH))
    application = PartyApplication(
        public_id=new_public_id("app"), name=tidy.name, kind=tidy.kind, region=tidy.region, address=tidy.address,
        phone=tidy.phone, email=tidy.email, role=tidy.role, description=tidy.description,
        consented_at=datetime.now(UTC), claim_code_hash=_hash_code(code))
    session.add(application)
    session.flush()
    return Receipt(application, format_claim_code(code))


def _find(session: Session, public_id: str) -> PartyApplication:
    return get_by_public_id(session, PartyApplication, public_id,
                            lambda: errors.UnknownApplication(f"no application {public_id}"))


def get_application(session: Session, registrar: Party, public_id: str) -> PartyApplication:
    """An application with its contact details: the registrar's alone."""
    require_role(registrar, Role.REGISTRAR)
    return _find(session, public_id)


def applications_query(status: str | None = None) -> Select[Any]:
    query = select(PartyApplication)
    return query.where(col(PartyApplication.status) == status) if status is not None else query


def list_applications(session: Session, registrar: Party, status: str | None, cursor: str | None,
                      limit: int) -> schemas.Page[schemas.ApplicationOut]:
    """Applications in the order they came, with their contact details: the registrar's alone."""
    require_role(registrar, Role.REGISTRAR)
    rows, next_cursor = page(session, applications_query(status), col(PartyApplication.id), cursor, limit)
    return schemas.Page(items=[application_out(session, row[0]) for row in rows], next_cursor=next_cursor)


def latest_decisions(session: Session, registrar: Party, limit: int) -> list[schemas.ApplicationOut]:
    """The applications decided last, newest first: the registrar's alone."""
    require_role(registrar, Role.REGISTRAR)
    rows = session.execute(select(PartyApplication)
                           .where(col(PartyApplication.status) != ApplicationStatus.SUBMITTED.value)
                           .order_by(col(PartyApplication.id).desc()).limit(limit)).scalars().all()
    return [application_out(session, row) for row in rows]


def count_waiting(session: Session) -> int:
    return session.execute(select(func.count()).select_from(PartyApplication).where(
        col(PartyApplication.status) == ApplicationStatus.SUBMITTED.value)).scalar_one()


def application_out(session: Session, application: PartyApplication) -> schemas.ApplicationOut:
    party = session.get(Party, application.party_id) if application.party_id else None
    decided_by = session.get(Party, application.decided_by_party_id) if application.decided_by_party_id else None
    return schemas.ApplicationOut(
        id=application.public_id, name=application.name, kind=application.kind, region=application.region,
        address=application.address, phone=application.phone, email=application.email, role=application.role,
        description=application.description, consented_at=application.consented_at,
        status=ApplicationStatus(application.status), reason=application.reason,
        party=party.public_id if party else None, decided_by=decided_by.public_id if decided_by else None,
        decided_at=application.decided_at, claimed_at=application.claimed_at, created_at=application.created_at)


def _refuse_decided(application: PartyApplication) -> errors.ApplicationAlreadyDecided:
    return errors.ApplicationAlreadyDecided(
        f"application {application.public_id} is already {application.status}; a decision is final")


def approve_application(session: Session, registrar: Party, application: PartyApplication) -> Party:
    """Create the applicant's party (its kind, role and region) and its holding account "Main", and
    mark the application approved, in the caller's one transaction. The mark is a conditional update
    on `submitted`: of two registrars approving at once only one wins, and the loser's party and
    account roll back with its transaction."""
    require_role(registrar, Role.REGISTRAR)
    if application.status != ApplicationStatus.SUBMITTED:
        raise _refuse_decided(application)
    party = create_party(session, registrar, application.name, PartyKind(application.kind),
                         [Role(application.role)], application.region)
    open_account(session, registrar, MAIN_ACCOUNT, party)
    result = session.execute(
        update(PartyApplication)
        .where(col(PartyApplication.id) == application.id,
               col(PartyApplication.status) == ApplicationStatus.SUBMITTED.value)
        .values(status=ApplicationStatus.APPROVED.value, party_id=pk(party), decided_by_party_id=pk(registrar),
                decided_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        session.refresh(application)
        raise _refuse_decided(application)
    session.refresh(application)
    return party


def reject_application(session: Session, registrar: Party, application: PartyApplication,
                       reason: str) -> PartyApplication:
    """Refuse with a reason the applicant will read; a conditional update, like an approval."""
    require_role(registrar, Role.REGISTRAR)
    reason = reason.strip()
    if not reason:
        raise errors.InvalidRequest("say why: the applicant reads the reason with its claim code")
    if len(reason) > REASON_MAX:
        raise errors.InvalidRequest(f"shorten the reason to at most {REASON_MAX} characters")
    result = session.execute(
        update(PartyApplication)
        .where(col(PartyApplication.id) == application.id,
               col(PartyApplication.status) == ApplicationStatus.SUBMITTED.value)
        .values(status=ApplicationStatus.REJECTED.value, reason=reason, decided_by_party_id=pk(registrar),
                decided_at=datetime.now(UTC)))
    session.refresh(application)
    if rows_changed(result) != 1:
        raise _refuse_decided(application)
    return application


def find_own_application(session: Session, public_id: str, claim_code: str) -> PartyApplication:
    """The application whose reference and claim code these are: how the applicant, who has no key
    yet, proves it is the applicant."""
    application = _find(session, public_id.strip())
    if not hmac.compare_digest(application.claim_code_hash, _hash_code(claim_code)):
        raise errors.ClaimCodeMismatch(
            f"that is not the claim code of application {application.public_id}; check it against the one you "
            "wrote down")
    return application


def applicant_view(application: PartyApplication) -> schemas.ApplicationStatusOut:
    """What the applicant sees with its reference and code: the decision, not the personal data."""
    return schemas.ApplicationStatusOut(
        id=application.public_id, name=public_name(application.name, application.kind), role=application.role,
        region=application.region, status=ApplicationStatus(application.status), reason=application.reason,
        created_at=application.created_at, decided_at=application.decided_at,
        claimed=application.claimed_at is not None)


@dataclass(frozen=True)
class Claimed:
    party: Party
    prefix: str
    api_key: str  # shown once; only its SHA-256 is kept


def claim_application(session: Session, public_id: str, claim_code: str) -> Claimed:
    """The approved applicant's first API key, once. The claim code stands in for a caller (as the
    operator's shell does for `cir keys create`); a second claim is refused whatever the code, and
    of two racing claims one wins (a conditional update on `claimed_at IS NULL`)."""
    application = find_own_application(session, public_id, claim_code)
    if application.status == ApplicationStatus.SUBMITTED:
        raise errors.ApplicationNotApproved(
            f"application {application.public_id} is waiting for the registrar's decision; come back later")
    if application.status == ApplicationStatus.REJECTED:
        raise errors.ApplicationNotApproved(
            f"application {application.public_id} was rejected: {application.reason}")
    result = session.execute(
        update(PartyApplication)
        .where(col(PartyApplication.id) == application.id, col(PartyApplication.claimed_at).is_(None),
               col(PartyApplication.status) == ApplicationStatus.APPROVED.value)
        .values(claimed_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        raise errors.ApplicationAlreadyClaimed(
            f"the key of application {application.public_id} was already claimed; if it is lost, ask the registrar "
            "for a new one")
    party = session.get(Party, application.party_id)
    if party is None:
        raise errors.UnknownParty(f"application {application.public_id} names no party")
    key, secret = issue_operator_api_key(session, party, label=f"claimed with {application.public_id}")
    return Claimed(party, key.prefix, secret)
