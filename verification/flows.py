"""From a verified report to credits: the statement the verifier signs, its checks, and issuance
in the registry. A flow: it orchestrates reports, accreditation and `registry.credits`."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlmodel import Session, col

from registry import credits, errors
from registry.accounts import BUFFER_POOL_ACCOUNT
from registry.models import Account, Issuance, Party, Project, Role, pk
from registry.parties import require_role
from verification.accreditation import check_may_verify
from verification.errors import (
    InvalidReportTransition,
    NotAccredited,
    StatementInvalid,
    StatementSignatureInvalid,
    UnknownStatement,
)
from verification.models import MonitoringReport, ReportStatus, VerificationStatement, VerifierAccreditation
from verification.reports import project_of, require_assigned, transition
from verification.statements import (
    STATEMENT_TYPE,
    STATEMENT_VERSION,
    BadSignature,
    statement_sha256,
    verify_statement_signature,
)

# A statement signed further in the future than this is refused (clock skew allowance).
SIGNED_AT_SKEW = timedelta(minutes=5)


def _quantification(report: MonitoringReport) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(report.quantification_json)
    return parsed


def statement_template(session: Session, verifier: Party, report: MonitoringReport) -> dict[str, Any]:
    """The statement the assigned verifier signs: everything fixed by the report, plus the
    quantities it certifies per vintage (at most the computed ones), its opinion and the time."""
    require_assigned(report, verifier)
    accreditation = check_may_verify(session, verifier, project_of(session, report), datetime.now(UTC).date())
    fields = _statement_fields(session, report, verifier, accreditation)
    return fields | {
        "verified_kg": dict(fields["computed_kg"]),  # a copy: lowering it must not change computed_kg
        "opinion": "",
        "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _statement_fields(session: Session, report: MonitoringReport, verifier: Party,
                      accreditation: VerifierAccreditation) -> dict[str, Any]:
    """The fields a statement must repeat exactly, as the registry computed them: what is verified
    (project, owner, period, data), how (methodology, factors, findings), what it yields per vintage
    (computed net, buffer share) and where the credits go."""
    project = project_of(session, report)
    owner = session.get(Party, project.owner_party_id)
    account = session.get(Account, report.issue_to_account_id)
    if owner is None or account is None:
        raise InvalidReportTransition(f"report {report.public_id} names no owner or account")
    parsed = _quantification(report)
    return {
        "type": STATEMENT_TYPE,
        "v": STATEMENT_VERSION,
        "report": report.public_id,
        "revision": report.revision,
        "project": {"id": project.public_id, "name": project.name, "region": project.region},
        "owner": {"party": owner.public_id, "name": owner.name},
        "period": {"start": report.period_start.isoformat(), "end": report.period_end.isoformat()},
        "vintages": [v["vintage_year"] for v in parsed["vintages"]],
        "account": account.public_id,
        "data_sha256": report.data_sha256,
        "input_fingerprint": parsed["input_fingerprint"],
        "methodology": {"id": parsed["methodology_id"], "version": parsed["methodology_version"]},
        "factors": parsed["factors"],
        "computed_kg": {str(v["vintage_year"]): v["net_reduction_kg"] for v in parsed["vintages"]},
        "buffer_kg": {str(v["vintage_year"]): v["deductions"]["buffer_kg"] for v in parsed["vintages"]},
        "findings": [{"code": f["code"], "severity": f["severity"], "count": f["count"]}
                     for f in parsed["qa_findings"]],
        "verifier": {"party": verifier.public_id, "name": verifier.name, "key_id": accreditation.key_id},
    }


def _check_statement(statement: dict[str, Any], expected: dict[str, Any],
                     accreditation: VerifierAccreditation) -> dict[int, int]:
    if not isinstance(statement, dict):
        raise StatementInvalid("the statement is not a JSON object")
    for name, value in expected.items():
        if statement.get(name) != value:
            raise StatementInvalid(
                f"the statement's {name!r} does not match the report as it stands; fetch a new template")
    verified = statement.get("verified_kg")
    if not isinstance(verified, dict) or set(verified) != set(expected["computed_kg"]):
        raise StatementInvalid("verified_kg must name exactly the report's vintages")
    certified: dict[int, int] = {}
    for vintage, quantity in verified.items():
        computed = expected["computed_kg"][vintage]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= computed:
            raise StatementInvalid(
                f"verified_kg[{vintage}] must be a whole number from 0 to the computed {computed} kg: a verifier "
                "may certify less than the methodology computed, never more")
        certified[int(vintage)] = quantity
    check_opinion_and_signing_time(statement, accreditation)
    allowed = {*expected, "verified_kg", "opinion", "signed_at"}
    if set(statement) - allowed:
        raise StatementInvalid(f"unexpected fields {sorted(set(statement) - allowed)}")
    return certified


def check_opinion_and_signing_time(statement: dict[str, Any], accreditation: VerifierAccreditation) -> None:
    """What every signed statement needs, whatever it verifies: an opinion, and a signing time that
    is not in the future and lies within the accreditation's validity."""
    opinion = statement.get("opinion")
    if not isinstance(opinion, str) or not opinion.strip():
        raise StatementInvalid("write the verifier's opinion: a statement without one is not a verification")
    try:
        signed_at = datetime.strptime(str(statement.get("signed_at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise StatementInvalid("signed_at must be UTC time like 2026-01-31T08:00:00Z") from exc
    if signed_at > datetime.now(UTC) + SIGNED_AT_SKEW:
        raise StatementInvalid("signed_at is in the future")
    if not accreditation.valid_from <= signed_at.date() <= accreditation.valid_until:
        raise NotAccredited(
            f"the statement was signed on {signed_at.date()}, outside the accreditation "
            f"({accreditation.valid_from} to {accreditation.valid_until})")


@dataclass
class Approval:
    statement_sha256: str
    issued: list[credits.Movement]


def approve_report(session: Session, verifier: Party, report: MonitoringReport, statement: dict[str, Any],
                   signature_b64: str, needs_registrar_approval: bool) -> Approval:
    """Accept the assigned verifier's signed statement; issue credits unless the registrar must
    approve too. Two verifiers racing to approve: the conditional transition lets one through."""
    require_assigned(report, verifier)
    project = project_of(session, report)
    accreditation = check_may_verify(session, verifier, project, datetime.now(UTC).date())
    if report.status != ReportStatus.UNDER_VERIFICATION:
        raise InvalidReportTransition(f"report {report.public_id} is {report.status}; cannot approve")
    expected = _statement_fields(session, report, verifier, accreditation)
    certified = _check_statement(statement, expected, accreditation)
    try:
        signature = verify_statement_signature(accreditation.public_key, statement, signature_b64)
    except BadSignature as exc:
        raise StatementSignatureInvalid(str(exc)) from exc
    # A replay cannot pass: a statement names the report's revision, and an approved report never
    # returns to verification (new data make a new revision). The unique index on the statement's
    # hash backs this up.
    digest = statement_sha256(statement)
    transition(session, report, {ReportStatus.UNDER_VERIFICATION}, ReportStatus.VERIFIED, verifier, "verified",
               str(statement["opinion"]))
    session.add(VerificationStatement(
        report_id=pk(report), accreditation_id=pk(accreditation), statement=rfc8785.dumps(statement),
        signature=signature, sha256=digest, verified_kg=sum(certified.values())))
    session.flush()
    issued = [] if needs_registrar_approval else _issue(session, report, project, verifier)
    return Approval(digest, issued)


def issue_report(session: Session, registrar: Party, report: MonitoringReport) -> list[credits.Movement]:
    """The registrar's second approval, where configured: issue a verified report's credits."""
    require_role(registrar, Role.REGISTRAR)
    if report.status != ReportStatus.VERIFIED:
        raise InvalidReportTransition(f"report {report.public_id} is {report.status}, not verified")
    return _issue(session, report, project_of(session, report), registrar)


def _issue(session: Session, report: MonitoringReport, project: Project, issued_by: Party) -> list[credits.Movement]:
    statement_row = session.execute(
        select(VerificationStatement).where(col(VerificationStatement.report_id) == report.id)
        .order_by(col(VerificationStatement.id).desc())).scalars().first()
    if statement_row is None:
        raise InvalidReportTransition(f"report {report.public_id} has no signed statement")
    statement = json.loads(statement_row.statement)
    buffers = {str(v["vintage_year"]): v["deductions"]["buffer_kg"] for v in _quantification(report)["vintages"]}
    owner_account = session.execute(
        select(col(Account.public_id)).where(col(Account.id) == report.issue_to_account_id)).scalar_one()
    transition(session, report, {ReportStatus.VERIFIED}, ReportStatus.ISSUED, issued_by, "credits issued")
    movements = []
    for vintage in sorted(statement["verified_kg"], key=int):
        quantity = statement["verified_kg"][vintage]
        buffer_kg = buffer_share_of_signed(buffers.get(vintage, 0), statement["computed_kg"][vintage], quantity)
        if quantity > 0:
            movements.append(credits.record_issuance(
                session, issued_by, project, int(vintage), quantity, owner_account, statement_row.sha256)[1])
        if buffer_kg > 0:  # the non-permanence share goes to the buffer pool
            movements.append(credits.record_issuance(
                session, issued_by, project, int(vintage), buffer_kg, BUFFER_POOL_ACCOUNT, statement_row.sha256)[1])
    return movements


def buffer_share_of_signed(computed_buffer_kg: int, computed_kg: int, verified_kg: int) -> int:
    """The buffer pool's kg for a vintage: the methodology's buffer scaled by what the verifier
    signed for the owner (verified ÷ computed), rounded down. Nothing signed, nothing to the pool:
    every kg issued, owner's or buffer's, follows from the signed `verified_kg`."""
    if computed_kg <= 0 or verified_kg <= 0:
        return 0
    return computed_buffer_kg * verified_kg // computed_kg


@dataclass(frozen=True)
class SignedStatement:
    statement: dict[str, Any]
    signature_b64: str
    sha256: str
    accreditation: VerifierAccreditation


def issuance_statement(session: Session, issuance_public_id: str) -> SignedStatement:
    """The signed statement an issuance cites (public): anyone checks it with the verifier's key."""
    row = session.execute(
        select(VerificationStatement, VerifierAccreditation)
        .join(Issuance, col(Issuance.verification_statement_sha256) == col(VerificationStatement.sha256))
        .join(VerifierAccreditation, col(VerifierAccreditation.id) == col(VerificationStatement.accreditation_id))
        .where(col(Issuance.public_id) == issuance_public_id)).first()
    if row is None:
        if session.execute(select(col(Issuance.id)).where(col(Issuance.public_id) == issuance_public_id)).first():
            raise UnknownStatement(f"issuance {issuance_public_id} was issued by the registrar without a statement")
        raise errors.UnknownIssuance(f"no issuance {issuance_public_id}")
    statement_row, accreditation = row
    return SignedStatement(json.loads(statement_row.statement), base64.b64encode(statement_row.signature).decode(),
                           statement_row.sha256, accreditation)
