"""Net zero: facilities, emission inventories and their verification, claims, and certificates."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB, AppSettings, Blobs, Caller
from api.listing import CSV_RESPONSE, Cursor, Format, Limit, list_response
from netzero import certificates, claims, facilities, inventories, queries, schemas
from netzero.models import Certificate, CertificateStatus, Inventory, InventoryStatus
from netzero.pdf import certificate_pdf
from registry.models import Party
from registry.schemas import Page

router = APIRouter(prefix="/api/v1")
PROOF_NOTE = ("Verify offline with `cir verify-proof BUNDLE.json --key <GET /api/v1/log/key>`, or on the certificate's "
              "page in your browser.")


# --- facilities -------------------------------------------------------------------------------


@router.post("/facilities", status_code=201, response_model=schemas.FacilityOut, tags=["net zero"],
             summary="Register a facility: a factory site with its region and boundary (buyer)")
def register_facility(body: schemas.FacilityCreate, write: Write) -> Response:
    return write(body, _register_facility, body)


def _register_facility(s: Session, caller: Party, body: schemas.FacilityCreate) -> schemas.FacilityOut:
    facility = facilities.register_facility(s, caller, body.name, body.region, body.address, body.industry,
                                            body.boundary)
    return queries.facility_out(s, facility)


@router.get("/facilities", response_model=list[schemas.FacilityOut], tags=["net zero"],
            summary="Your facilities (all of them for the registrar and auditors)")
def list_facilities(db: DB, caller: Caller) -> list[schemas.FacilityOut]:
    with db.read() as s:
        return [queries.facility_out(s, f) for f in facilities.list_facilities(s, caller)]


@router.get("/facilities/{facility_id}", response_model=schemas.FacilityOut, tags=["net zero"])
def get_facility(facility_id: str, db: DB, caller: Caller) -> schemas.FacilityOut:
    with db.read() as s:
        return queries.facility_out(s, facilities.get_readable_facility(s, caller, facility_id))


# --- inventories ------------------------------------------------------------------------------


@router.post("/facilities/{facility_id}/inventories", status_code=201, response_model=schemas.InventoryOut,
             tags=["net zero"],
             summary="File an emission inventory from activity data: calculated at once, then waits for a verifier",
             description="Upload the CSV or XLSX first (PUT /api/v1/uploads); the format is in docs/inventory.md. "
                         "Filing again for the same facility and period makes the next version (a restatement).")
def file_inventory(facility_id: str, body: schemas.InventoryCreate, write: Write, blobs: Blobs,
                   settings: AppSettings) -> Response:
    return write(body, _file_inventory, facility_id, body, blobs.path(body.data_sha256), settings.max_upload_bytes)


def _file_inventory(s: Session, caller: Party, facility_id: str, body: schemas.InventoryCreate, data: Path,
                    max_bytes: int) -> schemas.InventoryOut:
    content = data.read_bytes()[: max_bytes + 1]
    inventory = inventories.file_inventory(s, caller, facility_id, body.period_start, body.period_end, content,
                                           body.data_sha256, body.data_filename)
    return queries.inventory_out(s, inventory)


@router.get("/inventories", response_model=Page[schemas.InventoryOut], tags=["net zero"],
            summary="Inventories you may see: yours, a verifier's queue and assignments, all for the registrar",
            description="`waiting=true`: submitted inventories you may take (accredited for `inventories` in the "
                        "facility's region, no conflict of interest).")
def list_inventories(
    db: DB, caller: Caller, facility: str | None = None, status: InventoryStatus | None = None,
    waiting: Annotated[bool, Query(description="Only inventories waiting for a verifier you could be")] = False,
    cursor: Cursor = None, limit: Limit = 50,
) -> Page[schemas.InventoryOut]:
    query = inventories.readable_inventories(caller, facility, status.value if status else None, waiting)
    with db.read() as s:
        return queries.list_inventories(s, query, cursor, limit)


@router.get("/inventories/{inventory_id}", response_model=schemas.InventoryOut, tags=["net zero"])
def get_inventory(inventory_id: str, db: DB, caller: Caller) -> schemas.InventoryOut:
    with db.read() as s:
        return queries.inventory_out(s, inventories.get_readable_inventory(s, caller, inventory_id))


@router.get("/inventories/{inventory_id}/data", tags=["net zero"], response_class=FileResponse,
            summary="The inventory's activity data, as uploaded")
def inventory_data(inventory_id: str, db: DB, caller: Caller, blobs: Blobs) -> FileResponse:
    with db.read() as s:
        inventory = inventories.get_readable_inventory(s, caller, inventory_id)
    return FileResponse(blobs.path(inventory.data_sha256), filename=inventory.filename)


InventoryStep = Callable[[Session, Party, Inventory], None]


def _inventory_step(s: Session, caller: Party, inventory_id: str, step: InventoryStep) -> schemas.InventoryOut:
    inventory = inventories.get_readable_inventory(s, caller, inventory_id)
    step(s, caller, inventory)
    return queries.inventory_out(s, inventory)


@router.post("/inventories/{inventory_id}/verification", status_code=200, response_model=schemas.InventoryOut,
             tags=["net zero"], summary="Take a submitted inventory for verification (verifier accredited for "
                                        "inventories in the facility's region, no conflict)")
def start_inventory_verification(inventory_id: str, write: Write) -> Response:
    return write(None, _inventory_step, inventory_id, inventories.start_verification)


@router.post("/inventories/{inventory_id}/changes-requested", status_code=200, response_model=schemas.InventoryOut,
             tags=["net zero"], summary="Send the inventory back with what to change (assigned verifier)")
def request_inventory_changes(inventory_id: str, body: schemas.InventoryNote, write: Write) -> Response:
    return write(body, _inventory_step, inventory_id, partial(_request_changes, comment=body.note))


def _request_changes(s: Session, caller: Party, inventory: Inventory, comment: str) -> None:
    inventories.request_changes(s, caller, inventory, comment)


@router.post("/inventories/{inventory_id}/rejection", status_code=200, response_model=schemas.InventoryOut,
             tags=["net zero"], summary="Reject the inventory (assigned verifier)")
def reject_inventory(inventory_id: str, body: schemas.InventoryNote, write: Write) -> Response:
    return write(body, _inventory_step, inventory_id, partial(_reject, reason=body.note))


def _reject(s: Session, caller: Party, inventory: Inventory, reason: str) -> None:
    inventories.reject_inventory(s, caller, inventory, reason)


@router.get("/inventories/{inventory_id}/statement-template", tags=["net zero"],
            summary="The statement to sign: the inventory's figures, verified_residual_kg (raise it if need be), "
                    "opinion, signed_at",
            description="Sign it on your side: `cir verifier sign statement.json --key verifier-key.pem`.")
def inventory_statement_template(inventory_id: str, db: DB, caller: Caller) -> dict[str, object]:
    with db.read() as s:
        return inventories.statement_template(s, caller, inventories.get_readable_inventory(s, caller, inventory_id))


@router.post("/inventories/{inventory_id}/approval", status_code=201, response_model=schemas.InventoryOut,
             tags=["net zero"], summary="Approve with a signed statement (assigned verifier): the inventory is "
                                        "verified and its residual is what a claim must cover")
def approve_inventory(inventory_id: str, body: schemas.InventoryApproval, write: Write) -> Response:
    return write(body, _approve_inventory, inventory_id, body)


def _approve_inventory(s: Session, caller: Party, inventory_id: str,
                       body: schemas.InventoryApproval) -> schemas.InventoryOut:
    inventory = inventories.get_readable_inventory(s, caller, inventory_id)
    inventories.approve_inventory(s, caller, inventory, body.statement, body.signature)
    return queries.inventory_out(s, inventory)


# --- claims -----------------------------------------------------------------------------------


@router.post("/claims", status_code=201, response_model=schemas.ClaimOut, tags=["net zero"],
             summary="Open the net-zero claim for a facility's verified inventory of a period (its holder)")
def open_claim(body: schemas.ClaimCreate, write: Write) -> Response:
    return write(body, _open_claim, body)


def _open_claim(s: Session, caller: Party, body: schemas.ClaimCreate) -> schemas.ClaimOut:
    return queries.claim_out(s, claims.open_claim(s, caller, body.facility, body.period_start))


@router.get("/claims", response_model=list[schemas.ClaimOut], tags=["net zero"],
            summary="Your claims with their progress: covered against the verified residual")
def list_claims(db: DB, caller: Caller) -> list[schemas.ClaimOut]:
    with db.read() as s:
        return [queries.claim_out(s, c) for c in claims.list_claims(s, caller)]


@router.get("/claims/{claim_id}", response_model=schemas.ClaimOut, tags=["net zero"])
def get_claim(claim_id: str, db: DB, caller: Caller) -> schemas.ClaimOut:
    with db.read() as s:
        return queries.claim_out(s, claims.get_readable_claim(s, caller, claim_id))


@router.post("/claims/{claim_id}/retirements", status_code=201, response_model=schemas.ClaimOut, tags=["net zero"],
             summary="Retire credits for the claim: the retirement names the claim and backs it alone",
             description="No credit of a vintage after the reporting period; by 12 months after the period ends.")
def retire_for_claim(claim_id: str, body: schemas.ClaimRetirementCreate, write: Write) -> Response:
    return write(body, _retire_for_claim, claim_id, body)


def _retire_for_claim(s: Session, caller: Party, claim_id: str,
                      body: schemas.ClaimRetirementCreate) -> schemas.ClaimOut:
    claim = claims.get_readable_claim(s, caller, claim_id)
    claims.retire_for_claim(s, caller, claim, body.from_account, body.quantity_kg, body.to_selection(),
                            body.public_note)
    return queries.claim_out(s, claim)


@router.post("/claims/{claim_id}/attached-retirements", status_code=201, response_model=schemas.ClaimOut,
             tags=["net zero"], summary="Let an earlier retirement of yours for the period back the claim")
def attach_retirement(claim_id: str, body: schemas.ClaimAttach, write: Write) -> Response:
    return write(body, _attach, claim_id, body.retirement)


def _attach(s: Session, caller: Party, claim_id: str, retirement_id: str) -> schemas.ClaimOut:
    claim = claims.get_readable_claim(s, caller, claim_id)
    claims.attach_retirement(s, caller, claim, retirement_id)
    return queries.claim_out(s, claim)


@router.post("/claims/{claim_id}/certificate", status_code=201, response_model=schemas.CertificateDetailOut,
             tags=["net zero"], summary="Certify a covered claim: a public certificate and a ledger entry")
def certify_claim(claim_id: str, write: Write, settings: AppSettings) -> Response:
    return write(None, _certify, claim_id, settings.certificate_validity_months)


def _certify(s: Session, caller: Party, claim_id: str, validity_months: int) -> schemas.CertificateDetailOut:
    claim = claims.get_readable_claim(s, caller, claim_id)
    certificate = certificates.issue_certificate(s, caller, claim, validity_months)
    return queries.certificate_detail(s, certificate.public_id)


# --- certificates (public) --------------------------------------------------------------------


@router.get("/certificates", response_model=Page[schemas.CertificateOut], responses=CSV_RESPONSE,
            tags=["net zero"], summary="Search net-zero certificates (public); ?format=csv exports every match")
def list_certificates(
    request: Request, db: DB, facility: str | None = None, party: str | None = None,
    region: Annotated[str | None, Query(max_length=6, description="The facility's region, e.g. CN-GD")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="The year the reporting period ends")] = None,
    status: CertificateStatus | None = None, cursor: Cursor = None, limit: Limit = 50, format: Format = None,
) -> Response:
    query = certificates.certificates_query(certificates.CertificateFilter(facility, party, region, year, status))
    return list_response(request, db, query, col(Certificate.id), queries.certificate_row_out,
                         schemas.CertificateOut, cursor, limit, format, "certificates.csv")


@router.get("/certificates/{certificate_id}", response_model=schemas.CertificateDetailOut, tags=["net zero"],
            summary="A certificate: its status now, and the record exactly as its ledger entry states it")
def get_certificate(certificate_id: str, db: DB) -> schemas.CertificateDetailOut:
    with db.read() as s:
        return queries.certificate_detail(s, certificate_id)


@router.get("/certificates/{certificate_id}/pdf", tags=["net zero"], response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "The certificate, Chinese and English"}},
            summary="The certificate as PDF, in Chinese and English, with a QR code to its public page")
def certificate_pdf_file(certificate_id: str, request: Request, db: DB, settings: AppSettings) -> Response:
    with db.read() as s:
        detail = queries.certificate_detail(s, certificate_id)
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    pdf = certificate_pdf(detail.document, f"{base}/certificates/{detail.id}", detail.status,
                          detail.status_reason or None)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{detail.number}.pdf"'})


@router.get("/certificates/{certificate_id}/proof", tags=["net zero", "log"],
            summary="Proof bundle: the certificate's entry and each retirement's, with inclusion proofs and the "
                    "signed checkpoint", description=PROOF_NOTE)
def certificate_proof(certificate_id: str, db: DB) -> dict[str, object]:
    with db.read() as s:
        return certificates.certificate_proof_bundle(s, certificates.get_certificate(s, certificate_id))


@router.post("/certificates/{certificate_id}/revocation", status_code=200, response_model=schemas.CertificateDetailOut,
             tags=["net zero"], summary="Revoke a certificate, with its public reason (registrar)")
def revoke_certificate(certificate_id: str, body: schemas.CertificateRevocation, write: Write) -> Response:
    return write(body, _revoke, certificate_id, body.reason)


def _revoke(s: Session, caller: Party, certificate_id: str, reason: str) -> schemas.CertificateDetailOut:
    certificates.revoke_certificate(s, caller, certificates.get_certificate(s, certificate_id), reason)
    return queries.certificate_detail(s, certificate_id)

