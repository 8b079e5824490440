"""Uploads, verifier accreditation, project assets and trail, monitoring reports, verification."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlmodel import Session

from api.commands import Write
from api.deps import DB, AppSettings, Blobs, Caller
from api.listing import Cursor, Limit
from registry.models import Party
from registry.projects import get_project
from registry.schemas import Page
from verification import accreditation, assets, flows, projects, queries, reports, schemas
from verification.models import AccreditationStatus, MonitoringReport, ReportStatus
from verification.projects import DocumentSpec

router = APIRouter(prefix="/api/v1")


@router.put("/uploads", status_code=201, response_model=schemas.UploadOut, tags=["reports"],
            summary="Upload a file (monitoring data, a document): stored under the SHA-256 of its bytes",
            description="Send the raw bytes as the request body. The upload is streamed to disk and refused "
                        "with 413 past `CIR_MAX_UPLOAD_BYTES`; nothing of a refused upload is kept.")
async def upload(request: Request, caller: Caller, blobs: Blobs, settings: AppSettings) -> schemas.UploadOut:
    sha256, size = await blobs.put_stream(request.stream(), settings.max_upload_bytes)
    return schemas.UploadOut(sha256=sha256, bytes=size)


# --- verifiers --------------------------------------------------------------------------------


@router.post("/verifiers", status_code=201, response_model=schemas.AccreditationOut, tags=["verifiers"],
             summary="Accredit a verification body with its public key, scope and validity (registrar)")
def accredit(body: schemas.AccreditationCreate, write: Write) -> Response:
    return write(body, _accredit, body)


def _accredit(s: Session, caller: Party, body: schemas.AccreditationCreate) -> schemas.AccreditationOut:
    created = accreditation.accredit_verifier(s, caller, body.party, body.public_key_pem, body.methodologies,
                                              body.regions, body.valid_from, body.valid_until)
    return queries.accreditation_out(s, created)


@router.get("/verifiers", response_model=list[schemas.AccreditationOut], tags=["verifiers"],
            summary="Every accreditation: the verifier, its public key, scope, validity and status (public)")
def list_verifiers(db: DB) -> list[schemas.AccreditationOut]:
    with db.read() as s:
        return queries.list_accreditations(s)


@router.post("/verifiers/{accreditation_id}/suspension", status_code=200, response_model=schemas.AccreditationOut,
             tags=["verifiers"], summary="Suspend an accreditation (registrar): the verifier may neither take nor "
                                         "approve until it is reinstated")
def suspend_accreditation(accreditation_id: str, body: schemas.AccreditationStatusChange, write: Write) -> Response:
    return write(body, _set_accreditation_status, accreditation_id, AccreditationStatus.SUSPENDED, body.reason)


@router.post("/verifiers/{accreditation_id}/reinstatement", status_code=200, response_model=schemas.AccreditationOut,
             tags=["verifiers"], summary="Reinstate a suspended accreditation (registrar)")
def reinstate_accreditation(accreditation_id: str, body: schemas.AccreditationStatusChange, write: Write) -> Response:
    return write(body, _set_accreditation_status, accreditation_id, AccreditationStatus.ACTIVE, body.reason)


@router.post("/verifiers/{accreditation_id}/revocation", status_code=200, response_model=schemas.AccreditationOut,
             tags=["verifiers"], summary="Revoke an accreditation for good (registrar)")
def revoke_accreditation(accreditation_id: str, body: schemas.AccreditationStatusChange, write: Write) -> Response:
    return write(body, _set_accreditation_status, accreditation_id, AccreditationStatus.REVOKED, body.reason)


def _set_accreditation_status(s: Session, caller: Party, accreditation_id: str, status: AccreditationStatus,
                              reason: str) -> schemas.AccreditationOut:
    changed = accreditation.set_accreditation_status(
        s, caller, accreditation.get_accreditation(s, accreditation_id), status, reason)
    return queries.accreditation_out(s, changed)


@router.post("/affiliations", status_code=204, tags=["verifiers"],
             summary="Declare a tie to a party (verifier): its projects are then not yours to verify")
def declare_affiliation(body: schemas.AffiliationCreate, db: DB, caller: Caller) -> Response:
    with db.write() as s:
        accreditation.declare_affiliation(s, caller, body.party)
    return Response(status_code=204)


# --- project assets and trail -----------------------------------------------------------------


@router.get("/projects/{project_id}/assets", response_model=list[schemas.AssetOut], tags=["projects"],
            summary="The meters, chargers and parcels of a project (public: anyone can check double counting)")
def project_assets(project_id: str, db: DB) -> list[schemas.AssetOut]:
    with db.read() as s:
        return queries.project_assets(s, get_project(s, project_id))


@router.post("/external-registrations", status_code=201, response_model=schemas.ImportOut, tags=["verifiers"],
             summary="Import what other programmes already credit (registrar): CCER project ids, GEC meters …",
             description="A project that lists such an asset, or declares such a registration (other than green "
                         "electricity certificates, whose claimed energy is deducted instead), is refused.")
def import_external(body: list[schemas.ImportedRegistration], db: DB, caller: Caller) -> schemas.ImportOut:
    with db.write() as s:
        added = assets.import_external_registrations(
            s, caller, [(e.scheme, e.identifier, e.asset_kind, e.note) for e in body])
    return schemas.ImportOut(received=len(body), added=added)


@router.get("/projects/{project_id}/documents", response_model=list[schemas.DocumentOut], tags=["projects"],
            summary="Documents filed with a project (public)")
def documents(project_id: str, db: DB) -> list[schemas.DocumentOut]:
    with db.read() as s:
        return queries.project_documents(s, get_project(s, project_id))


@router.get("/projects/{project_id}/documents/{sha256}", tags=["projects"], response_class=FileResponse,
            summary="Download a project document; its SHA-256 is its name, so it is what was filed")
def document(project_id: str, sha256: str, db: DB, blobs: Blobs) -> FileResponse:
    with db.read() as s:
        filed = queries.project_document(s, get_project(s, project_id), sha256)
    return FileResponse(blobs.path(sha256), filename=filed.filename)


@router.post("/projects/{project_id}/documents", status_code=201, response_model=list[schemas.DocumentOut],
             tags=["projects"], summary="File an uploaded document with a project (owner; the validator files the "
                                        "validation report while the project is under validation)")
def file_document(project_id: str, body: schemas.DocumentIn, write: Write, blobs: Blobs) -> Response:
    document = DocumentSpec(body.title, body.filename, body.sha256, blobs.path(body.sha256).stat().st_size, body.kind)
    return write(body, _file_document, project_id, document)


def _file_document(s: Session, caller: Party, project_id: str, document: DocumentSpec) -> schemas.DocumentList:
    project = get_project(s, project_id)
    projects.file_document(s, caller, project, document)
    return schemas.DocumentList(queries.project_documents(s, project))


@router.post("/projects/{project_id}/assets", status_code=201, response_model=list[schemas.AssetOut],
             tags=["projects"], summary="Add assets to a draft project (owner)")
def add_assets(project_id: str, body: list[schemas.AssetIn], db: DB, caller: Caller) -> list[schemas.AssetOut]:
    with db.write() as s:
        project = get_project(s, project_id)
        assets.add_assets(s, caller, project,
                          [assets.AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in body])
        return queries.project_assets(s, project)


@router.get("/projects/{project_id}/trail", response_model=list[schemas.EventOut], tags=["projects"],
            summary="Every workflow step of a project and its reports (public; notes for insiders only)")
def project_trail(project_id: str, db: DB) -> list[schemas.EventOut]:
    with db.read() as s:
        project = get_project(s, project_id)
        return queries.trail(s, queries.project_trail_subjects(s, project), with_notes=False)


# --- monitoring reports -----------------------------------------------------------------------


@router.post("/projects/{project_id}/reports", status_code=201, response_model=schemas.ReportOut, tags=["reports"],
             summary="Create a monitoring report from uploaded data: checked and quantified at once (owner)",
             description="Upload the data first (PUT /api/v1/uploads). The report starts as a draft showing the "
                         "quantification and its QA findings; submit it when it looks right.")
def create_report(project_id: str, body: schemas.ReportCreate, write: Write, blobs: Blobs,
                  settings: AppSettings) -> Response:
    return write(body, _create_report, project_id, body, blobs.path(body.data_sha256), settings.max_upload_bytes)


def _create_report(s: Session, caller: Party, project_id: str, body: schemas.ReportCreate, data: Path,
                   max_bytes: int) -> schemas.ReportOut:
    report = reports.create_report(
        s, caller, get_project(s, project_id), body.period_start, body.period_end, data,
        body.data_sha256, body.data_filename, body.params, body.issue_to_account, max_bytes)
    return queries.report_out(s, report)


@router.get("/reports", response_model=Page[schemas.ReportOut], tags=["reports"],
            summary="Reports you may see: a verifier's queue, an owner's reports, all for the registrar",
            description="`waiting=true`: submitted reports you may take (in your accreditation's scope, no conflict "
                        "of interest). `assigned=me`: reports assigned to you, including those that came back after "
                        "changes you requested.")
def list_reports(
    db: DB, caller: Caller, status: ReportStatus | None = None, methodology_id: str | None = None,
    region: str | None = None, project: str | None = None,
    assigned: Annotated[Literal["me"] | None, Query(description="me: the reports assigned to you")] = None,
    waiting: Annotated[bool, Query(description="Only reports waiting for a verifier that you may take")] = False,
    cursor: Cursor = None, limit: Limit = 50,
) -> Page[schemas.ReportOut]:
    filters = queries.ReportFilters(status.value if status else None, methodology_id, region, project,
                                    assigned == "me", waiting)
    with db.read() as s:
        return queries.list_reports(s, caller, filters, cursor, limit)


@router.get("/reports/{report_id}", response_model=schemas.ReportOut, tags=["reports"])
def get_report(report_id: str, db: DB, caller: Caller) -> schemas.ReportOut:
    with db.read() as s:
        return queries.report_out(s, reports.get_readable_report(s, caller, report_id))


@router.get("/reports/{report_id}/data", tags=["reports"], summary="The report's raw monitoring data, as uploaded",
            response_class=FileResponse)
def report_data(report_id: str, db: DB, caller: Caller, blobs: Blobs) -> FileResponse:
    with db.read() as s:
        report = reports.get_readable_report(s, caller, report_id)
    return FileResponse(blobs.path(report.data_sha256), filename=report.data_filename)


@router.put("/reports/{report_id}/data", status_code=200, response_model=schemas.ReportOut, tags=["reports"],
            summary="Replace a draft's data, or answer requested changes: a new revision (owner)")
def replace_data(report_id: str, body: schemas.ReportDataReplace, write: Write, blobs: Blobs,
                 settings: AppSettings) -> Response:
    return write(body, _replace_data, report_id, body, blobs.path(body.data_sha256), settings.max_upload_bytes)


def _replace_data(s: Session, caller: Party, report_id: str, body: schemas.ReportDataReplace, data: Path,
                  max_bytes: int) -> schemas.ReportOut:
    report = reports.replace_report_data(s, caller, reports.get_report(s, report_id), data,
                                         body.data_sha256, body.data_filename, body.params, max_bytes)
    return queries.report_out(s, report)


ReportStep = Callable[[Session, Party, MonitoringReport], None]


def _report_step(s: Session, caller: Party, report_id: str, step: ReportStep) -> schemas.ReportOut:
    """One workflow step on a report, answered with the report as it now stands."""
    report = reports.get_report(s, report_id)
    step(s, caller, report)
    return queries.report_out(s, report)


@router.post("/reports/{report_id}/submit", status_code=200, response_model=schemas.ReportOut, tags=["reports"],
             summary="Submit a draft for verification (owner)")
def submit(report_id: str, write: Write) -> Response:
    return write(None, _report_step, report_id, reports.submit_report)


@router.post("/reports/{report_id}/verification", status_code=200, response_model=schemas.ReportOut,
             tags=["verification"],
             summary="Take a submitted report for verification (accredited verifier in scope, no conflict)")
def start_verification(report_id: str, write: Write) -> Response:
    return write(None, _report_step, report_id, reports.start_verification)


@router.post("/reports/{report_id}/changes-requested", status_code=200, response_model=schemas.ReportOut,
             tags=["verification"], summary="Send the report back to its owner with what to change (assigned verifier)")
def request_changes(report_id: str, body: schemas.Note, write: Write) -> Response:
    return write(body, _report_step, report_id, partial(reports.request_changes, note=body.note))


@router.post("/reports/{report_id}/rejection", status_code=200, response_model=schemas.ReportOut,
             tags=["verification"], summary="Reject the report (assigned verifier, or the registrar)")
def reject(report_id: str, body: schemas.Note, write: Write) -> Response:
    return write(body, _report_step, report_id, partial(reports.reject_report, note=body.note))


@router.post("/reports/{report_id}/comments", status_code=204, tags=["verification"],
             summary="Comment on a report (owner, verifiers, registrar); the comment joins the trail")
def add_comment(report_id: str, body: schemas.Note, db: DB, caller: Caller) -> Response:
    with db.write() as s:
        reports.comment(s, caller, reports.get_report(s, report_id), body.note)
    return Response(status_code=204)


@router.get("/reports/{report_id}/statement-template", tags=["verification"],
            summary="The statement to sign: fixed fields, verified_kg (lower it if need be), opinion, signed_at",
            description="Sign it on your side: `cir verifier sign statement.json --key verifier-key.pem`.")
def statement_template(report_id: str, db: DB, caller: Caller) -> dict[str, object]:
    with db.read() as s:
        return flows.statement_template(s, caller, reports.get_report(s, report_id))


@router.post("/reports/{report_id}/approval", status_code=201, response_model=schemas.ApprovalOut,
             tags=["verification"],
             summary="Approve with a signed statement (assigned verifier): verified, and credits issued",
             description="Credits are issued per vintage to the report's account at once, unless the registry "
                         "requires the registrar's approval too (POST …/issuance).")
def approve(report_id: str, body: schemas.Approval, write: Write, settings: AppSettings) -> Response:
    return write(body, _approve, report_id, body, settings.issuance_needs_registrar_approval)


def _approve(s: Session, caller: Party, report_id: str, body: schemas.Approval,
             needs_registrar: bool) -> schemas.ApprovalOut:
    report = reports.get_report(s, report_id)
    approval = flows.approve_report(s, caller, report, body.statement, body.signature, needs_registrar)
    return schemas.ApprovalOut(report=queries.report_out(s, report), statement_sha256=approval.statement_sha256,
                               issuances=[m.public_id for m in approval.issued],
                               ledger_entries=[m.ledger_entry_id for m in approval.issued])


@router.post("/reports/{report_id}/issuance", status_code=201, response_model=schemas.IssuedOut,
             tags=["verification"],
             summary="Issue a verified report's credits (registrar, where its approval is required)")
def issue(report_id: str, write: Write) -> Response:
    return write(None, _issue, report_id)


def _issue(s: Session, caller: Party, report_id: str) -> schemas.IssuedOut:
    report = reports.get_report(s, report_id)
    movements = flows.issue_report(s, caller, report)
    return schemas.IssuedOut(report=queries.report_out(s, report), issuances=[m.public_id for m in movements],
                             ledger_entries=[m.ledger_entry_id for m in movements])


@router.get("/reports/{report_id}/trail", response_model=list[schemas.EventOut], tags=["reports"],
            summary="The report's workflow steps with their notes (owner, verifiers, registrar, auditors)")
def report_trail(report_id: str, db: DB, caller: Caller) -> list[schemas.EventOut]:
    with db.read() as s:
        report = reports.get_readable_report(s, caller, report_id)
        return queries.trail(s, [report.public_id], with_notes=True)
