"""Uploads, verifier accreditation, project assets and trail, monitoring reports, verification."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from api.commands import run_command
from api.deps import DB, Caller
from registry import service
from verification import queries, schemas
from verification import service as vservice
from verification.blobs import BlobStore
from verification.errors import UnknownBlob

router = APIRouter(prefix="/api/v1")

def _blobs(request: Request) -> BlobStore:
    return request.app.state.blobs  # type: ignore[no-any-return]


@router.put("/uploads", status_code=201, response_model=schemas.UploadOut, tags=["reports"],
            summary="Upload a file (monitoring data, a document): stored under the SHA-256 of its bytes",
            description="Send the raw bytes as the request body. The upload is streamed to disk and refused "
                        "with 413 past `CIR_MAX_UPLOAD_BYTES`; nothing of a refused upload is kept.")
async def upload(request: Request, caller: Caller) -> schemas.UploadOut:
    settings = request.app.state.settings
    sha256, size = await _blobs(request).put_stream(request.stream(), settings.max_upload_bytes)
    return schemas.UploadOut(sha256=sha256, bytes=size)


# --- verifiers --------------------------------------------------------------------------------


@router.post("/verifiers", status_code=201, response_model=schemas.AccreditationOut, tags=["verifiers"],
             summary="Accredit a verification body with its public key, scope and validity (registrar)")
def accredit(body: schemas.AccreditationCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        accreditation = vservice.accredit_verifier(s, caller, body.party, body.public_key_pem, body.methodologies,
                                                   body.regions, body.valid_from, body.valid_until)
        return queries.accreditation_out(s, accreditation)
    return run_command(db, request, caller, body, command)


@router.get("/verifiers", response_model=list[schemas.AccreditationOut], tags=["verifiers"],
            summary="Accredited verifiers, their key ids, scope and validity (public)")
def list_verifiers(db: DB) -> list[schemas.AccreditationOut]:
    with db.read() as s:
        return queries.list_accreditations(s)


@router.post("/affiliations", status_code=204, tags=["verifiers"],
             summary="Declare a tie to a party (verifier): its projects are then not yours to verify")
def declare_affiliation(body: schemas.AffiliationCreate, db: DB, caller: Caller) -> Response:
    with db.write() as s:
        vservice.declare_affiliation(s, caller, body.party)
    return Response(status_code=204)


# --- project assets and trail -----------------------------------------------------------------


@router.get("/projects/{project_id}/assets", response_model=list[schemas.AssetOut], tags=["projects"],
            summary="The meters, chargers and parcels of a project (public: anyone can check double counting)")
def assets(project_id: str, db: DB) -> list[schemas.AssetOut]:
    with db.read() as s:
        return queries.project_assets(s, service.get_project(s, project_id))


@router.post("/external-registrations", status_code=201, response_model=schemas.ImportOut, tags=["verifiers"],
             summary="Import what other programmes already credit (registrar): CCER project ids, GEC meters …",
             description="A project that lists such an asset, or declares such a registration (other than green "
                         "electricity certificates, whose claimed energy is deducted instead), is refused.")
def import_external(body: list[schemas.ImportedRegistration], db: DB, caller: Caller) -> schemas.ImportOut:
    with db.write() as s:
        added = vservice.import_external_registrations(
            s, caller, [(e.scheme, e.identifier, e.asset_kind, e.note) for e in body])
    return schemas.ImportOut(received=len(body), added=added)


@router.get("/projects/{project_id}/documents", response_model=list[schemas.DocumentOut], tags=["projects"],
            summary="Documents filed with a project (public)")
def documents(project_id: str, db: DB) -> list[schemas.DocumentOut]:
    with db.read() as s:
        return queries.project_documents(s, service.get_project(s, project_id))


@router.get("/projects/{project_id}/documents/{sha256}", tags=["projects"], response_class=FileResponse,
            summary="Download a project document; its SHA-256 is its name, so it is what was filed")
def document(project_id: str, sha256: str, db: DB, request: Request) -> FileResponse:
    with db.read() as s:
        filed = {d.sha256: d for d in queries.project_documents(s, service.get_project(s, project_id))}
    if sha256 not in filed:
        raise UnknownBlob(f"project {project_id} has no document {sha256}")
    return FileResponse(_blobs(request).path(sha256), filename=filed[sha256].filename)


@router.post("/projects/{project_id}/assets", status_code=201, response_model=list[schemas.AssetOut],
             tags=["projects"], summary="Add assets to a draft project (owner)")
def add_assets(project_id: str, body: list[schemas.AssetIn], db: DB, caller: Caller) -> list[schemas.AssetOut]:
    with db.write() as s:
        project = service.get_project(s, project_id)
        vservice.add_assets(s, caller, project,
                            [vservice.AssetSpec(a.kind, a.identifier, a.area_m2, a.geometry) for a in body])
        return queries.project_assets(s, project)


@router.get("/projects/{project_id}/trail", response_model=list[schemas.EventOut], tags=["projects"],
            summary="Every workflow step of a project and its reports (public; notes for insiders only)")
def project_trail(project_id: str, db: DB) -> list[schemas.EventOut]:
    with db.read() as s:
        project = service.get_project(s, project_id)
        subjects = queries.project_trail_subjects(s, project)
        return queries.trail(s, subjects, with_notes=False)


# --- monitoring reports -----------------------------------------------------------------------


@router.post("/projects/{project_id}/reports", status_code=201, response_model=schemas.ReportOut, tags=["reports"],
             summary="Create a monitoring report from uploaded data: checked and quantified at once (owner)",
             description="Upload the data first (PUT /api/v1/uploads). The report starts as a draft showing the "
                         "quantification and its QA findings; submit it when it looks right.")
def create_report(project_id: str, body: schemas.ReportCreate, db: DB, caller: Caller, request: Request) -> Response:
    path = _blobs(request).path(body.data_sha256)

    def command(s):  # type: ignore[no-untyped-def]
        report = vservice.create_report(
            s, caller, service.get_project(s, project_id), body.period_start, body.period_end, path,
            body.data_sha256, body.data_filename, body.params, body.issue_to_account,
            request.app.state.settings.max_upload_bytes)
        return queries.report_out(s, report)
    return run_command(db, request, caller, body, command)


def _readable_report(s, caller, report_id):  # type: ignore[no-untyped-def]
    report = vservice.get_report(s, report_id)
    vservice.require_report_reader(s, caller, report)
    return report


@router.get("/reports/{report_id}", response_model=schemas.ReportOut, tags=["reports"])
def get_report(report_id: str, db: DB, caller: Caller) -> schemas.ReportOut:
    with db.read() as s:
        return queries.report_out(s, _readable_report(s, caller, report_id))


@router.get("/reports/{report_id}/data", tags=["reports"], summary="The report's raw monitoring data, as uploaded",
            response_class=FileResponse)
def report_data(report_id: str, db: DB, caller: Caller, request: Request) -> FileResponse:
    with db.read() as s:
        report = _readable_report(s, caller, report_id)
    return FileResponse(_blobs(request).path(report.data_sha256), filename=report.data_filename)


@router.put("/reports/{report_id}/data", response_model=schemas.ReportOut, tags=["reports"],
            summary="Replace a draft's data, or answer requested changes: a new revision (owner)")
def replace_data(report_id: str, body: schemas.ReportDataReplace, db: DB, caller: Caller,
                 request: Request) -> Response:
    path = _blobs(request).path(body.data_sha256)

    def command(s):  # type: ignore[no-untyped-def]
        report = vservice.replace_report_data(s, caller, vservice.get_report(s, report_id), path, body.data_sha256,
                                              body.data_filename, body.params,
                                              request.app.state.settings.max_upload_bytes)
        return queries.report_out(s, report)
    return run_command(db, request, caller, body, command, status_code=200)


def _report_step(db, request, caller, report_id, step):  # type: ignore[no-untyped-def]
    def command(s):  # type: ignore[no-untyped-def]
        report = vservice.get_report(s, report_id)
        step(s, report)
        return queries.report_out(s, report)
    return run_command(db, request, caller, None, command, status_code=200)


@router.post("/reports/{report_id}/submit", response_model=schemas.ReportOut, tags=["reports"],
             summary="Submit a draft for verification (owner)")
def submit(report_id: str, db: DB, caller: Caller, request: Request) -> Response:
    return _report_step(db, request, caller, report_id, lambda s, r: vservice.submit_report(s, caller, r))


@router.post("/reports/{report_id}/verification", response_model=schemas.ReportOut, tags=["verification"],
             summary="Take a submitted report for verification (accredited verifier in scope, no conflict)")
def start_verification(report_id: str, db: DB, caller: Caller, request: Request) -> Response:
    return _report_step(db, request, caller, report_id, lambda s, r: vservice.start_verification(s, caller, r))


@router.post("/reports/{report_id}/changes-requested", response_model=schemas.ReportOut, tags=["verification"],
             summary="Send the report back to its owner with what to change (assigned verifier)")
def request_changes(report_id: str, body: schemas.Note, db: DB, caller: Caller, request: Request) -> Response:
    return _report_step(db, request, caller, report_id,
                        lambda s, r: vservice.request_changes(s, caller, r, body.note))


@router.post("/reports/{report_id}/rejection", response_model=schemas.ReportOut, tags=["verification"],
             summary="Reject the report (assigned verifier, or the registrar)")
def reject(report_id: str, body: schemas.Note, db: DB, caller: Caller, request: Request) -> Response:
    return _report_step(db, request, caller, report_id, lambda s, r: vservice.reject_report(s, caller, r, body.note))


@router.post("/reports/{report_id}/comments", status_code=204, tags=["verification"],
             summary="Comment on a report (owner, verifiers, registrar); the comment joins the trail")
def add_comment(report_id: str, body: schemas.Note, db: DB, caller: Caller) -> Response:
    with db.write() as s:
        vservice.comment(s, caller, vservice.get_report(s, report_id), body.note)
    return Response(status_code=204)


@router.get("/reports/{report_id}/statement-template", tags=["verification"],
            summary="The statement to sign: fixed fields, verified_kg (lower it if need be), opinion, signed_at",
            description="Sign it on your side: `cir verifier sign statement.json --key verifier-key.pem`.")
def statement_template(report_id: str, db: DB, caller: Caller) -> dict[str, object]:
    with db.read() as s:
        return vservice.statement_template(s, caller, vservice.get_report(s, report_id))


@router.post("/reports/{report_id}/approval", status_code=201, response_model=schemas.ApprovalOut,
             tags=["verification"],
             summary="Approve with a signed statement (assigned verifier): verified, and credits issued",
             description="Credits are issued per vintage to the report's account at once, unless the registry "
                         "requires the registrar's approval too (POST …/issuance).")
def approve(report_id: str, body: schemas.Approval, db: DB, caller: Caller, request: Request) -> Response:
    needs_registrar = request.app.state.settings.issuance_needs_registrar_approval

    def command(s):  # type: ignore[no-untyped-def]
        report = vservice.get_report(s, report_id)
        approval = vservice.approve_report(s, caller, report, body.statement, body.signature, needs_registrar)
        return schemas.ApprovalOut(report=queries.report_out(s, report), statement_sha256=approval.statement_sha256,
                                   issuances=[m.public_id for m in approval.issued],
                                   ledger_entries=[m.ledger_entry_id for m in approval.issued])
    return run_command(db, request, caller, body, command)


@router.post("/reports/{report_id}/issuance", status_code=201, response_model=schemas.IssuedOut,
             tags=["verification"],
             summary="Issue a verified report's credits (registrar, where its approval is required)")
def issue(report_id: str, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        report = vservice.get_report(s, report_id)
        movements = vservice.issue_report(s, caller, report)
        return schemas.IssuedOut(report=queries.report_out(s, report), issuances=[m.public_id for m in movements],
                                 ledger_entries=[m.ledger_entry_id for m in movements])
    return run_command(db, request, caller, None, command)


@router.get("/reports/{report_id}/trail", response_model=list[schemas.EventOut], tags=["reports"],
            summary="The report's workflow steps with their notes (owner, verifiers, registrar, auditors)")
def report_trail(report_id: str, db: DB, caller: Caller) -> list[schemas.EventOut]:
    with db.read() as s:
        report = _readable_report(s, caller, report_id)
        return queries.trail(s, [report.public_id], with_notes=True)
