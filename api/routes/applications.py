"""Applying for an account: anyone applies, the registrar decides, the applicant claims its key."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session

from api.commands import Write
from api.deps import DB, Caller
from api.listing import Cursor, Limit
from registry import applications, schemas
from registry.models import ApplicationStatus, Party

router = APIRouter(prefix="/api/v1", tags=["applications"])


@router.post("/applications", status_code=201, response_model=schemas.ApplicationReceipt,
             summary="Apply for an account (anyone): returns the reference and a claim code, shown once",
             description="Keep both: `POST /api/v1/applications/{id}/claim` with the claim code collects the API "
                         "key once the registrar has approved. Every field that breaks a rule is named in one "
                         "`invalid-application` problem.")
def apply(body: schemas.ApplicationCreate, db: DB) -> schemas.ApplicationReceipt:
    # Not idempotent by design: a replay would have to store the claim code.
    details = applications.ApplicationDetails(
        body.name, body.kind.value, body.region, body.address, body.phone, body.email, body.role, body.description,
        body.consent)
    with db.write() as s:
        receipt = applications.submit_application(s, details)
        return schemas.ApplicationReceipt(id=receipt.application.public_id, status=ApplicationStatus.SUBMITTED,
                                          claim_code=receipt.claim_code, created_at=receipt.application.created_at)


@router.get("/applications", response_model=schemas.Page[schemas.ApplicationOut],
            summary="Applications with their contact details, oldest first (registrar)")
def list_applications(db: DB, caller: Caller, status: ApplicationStatus | None = None, cursor: Cursor = None,
                      limit: Limit = 50) -> schemas.Page[schemas.ApplicationOut]:
    with db.read() as s:
        return applications.list_applications(s, caller, status.value if status else None, cursor, limit)


@router.get("/applications/{application_id}", response_model=schemas.ApplicationOut,
            summary="One application with its contact details (registrar)")
def get_application(application_id: str, db: DB, caller: Caller) -> schemas.ApplicationOut:
    with db.read() as s:
        return applications.application_out(s, applications.get_application(s, caller, application_id))


@router.post("/applications/{application_id}/approval", status_code=200, response_model=schemas.ApplicationOut,
             summary="Approve (registrar): creates the party with the role asked for and its account \"Main\"",
             description="Of two registrars deciding at once, one wins; the other gets "
                         "`application-already-decided`.")
def approve(application_id: str, write: Write) -> Response:
    return write(None, _approve, application_id)


def _approve(s: Session, caller: Party, application_id: str) -> schemas.ApplicationOut:
    application = applications.get_application(s, caller, application_id)
    applications.approve_application(s, caller, application)
    return applications.application_out(s, application)


@router.post("/applications/{application_id}/rejection", status_code=200, response_model=schemas.ApplicationOut,
             summary="Reject with a reason the applicant reads (registrar)")
def reject(application_id: str, body: schemas.ApplicationRejection, write: Write) -> Response:
    return write(body, _reject, application_id, body.reason)


def _reject(s: Session, caller: Party, application_id: str, reason: str) -> schemas.ApplicationOut:
    application = applications.get_application(s, caller, application_id)
    return applications.application_out(s, applications.reject_application(s, caller, application, reason))


@router.post("/applications/{application_id}/claim", status_code=201, response_model=schemas.ClaimedKeyOut,
             summary="Collect the API key of an approved application with its claim code (anyone); shown once",
             description="Refused with a wrong code (`claim-code-mismatch`), before approval or after a rejection "
                         "(`application-not-approved`), and the second time (`application-already-claimed`).")
def claim(application_id: str, body: schemas.ApplicationClaim, db: DB) -> schemas.ClaimedKeyOut:
    # Not idempotent by design: a replay would have to store the key.
    with db.write() as s:
        claimed = applications.claim_application(s, application_id, body.claim_code)
        return schemas.ClaimedKeyOut(party=claimed.party.public_id, prefix=claimed.prefix, api_key=claimed.api_key)
