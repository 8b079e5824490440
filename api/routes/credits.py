"""Issuance, transfer, retirement, cancellation and freezing of serial-numbered credits."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.commands import run_command
from api.deps import DB, Caller
from api.routes.registry import Cursor, Limit
from registry import credits, queries, schemas
from registry.ledger import log

router = APIRouter(prefix="/api/v1")

WRITE_NOTE = " Send an `Idempotency-Key` header to make a retry return the first result."


@router.post("/issuances", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Issue credits for a registered project and vintage (registrar)",
             description="Creates one serial-numbered block of `quantity_kg` units." + WRITE_NOTE)
def issue(body: schemas.IssuanceCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        _, movement = credits.issue_credits(s, caller, body.project, body.vintage, body.quantity_kg,
                                            body.to_account, body.verification_statement_sha256)
        return schemas.MovementOut.of(movement)
    return run_command(db, request, caller, body, command)


@router.get("/issuances/{issuance_id}", response_model=schemas.IssuanceOut, tags=["credits"])
def get_issuance(issuance_id: str, db: DB) -> schemas.IssuanceOut:
    with db.read() as s:
        return queries.issuance_out(s, issuance_id)


@router.post("/transfers", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Transfer credits: an exact serial range, or a quantity oldest vintage first",
             description="Partial blocks are split; the parts keep the serial ranges they cover." + WRITE_NOTE)
def transfer(body: schemas.TransferCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        movement = credits.transfer_credits(s, caller, body.from_account, body.to_account, body.quantity_kg,
                                            body.to_selection())
        return schemas.MovementOut.of(movement)
    return run_command(db, request, caller, body, command)


@router.post("/retirements", status_code=201, response_model=schemas.RetirementOut, tags=["retirements"],
             summary="Retire credits for a beneficiary and claim period; retired units never move again",
             description="The proof bundle is ready at `proof_url` once the next checkpoint is signed "
                         "(about a second)." + WRITE_NOTE)
def retire(body: schemas.RetirementCreate, db: DB, caller: Caller, request: Request) -> Response:
    details = credits.RetirementDetails(body.beneficiary_name, body.beneficiary_type, body.purpose,
                                        body.claim_period_start, body.claim_period_end, body.public_note)

    def command(s):  # type: ignore[no-untyped-def]
        retirement, _ = credits.retire_credits(s, caller, body.from_account, body.quantity_kg, body.to_selection(),
                                               details)
        return queries.retirement_out(s, retirement.public_id)
    return run_command(db, request, caller, body, command)


@router.get("/retirements", response_model=schemas.Page[schemas.RetirementOut], tags=["retirements"],
            summary="Public list of retirements")
def list_retirements(db: DB, beneficiary: str | None = None, cursor: Cursor = None,
                     limit: Limit = 50) -> schemas.Page[schemas.RetirementOut]:
    with db.read() as s:
        return queries.list_retirements(s, beneficiary, cursor, limit)


@router.get("/retirements/{retirement_id}", response_model=schemas.RetirementOut, tags=["retirements"])
def get_retirement(retirement_id: str, db: DB) -> schemas.RetirementOut:
    with db.read() as s:
        return queries.retirement_out(s, retirement_id)


@router.get("/retirements/{retirement_id}/proof", tags=["retirements", "log"],
            summary="Proof bundle: {entry, leaf_index, inclusion, checkpoint}, verifiable offline",
            description="Verify with `cir verify-proof BUNDLE.json --key <GET /api/v1/log/key>`. "
                        "409 until the retirement is in a signed checkpoint.")
def retirement_proof(retirement_id: str, db: DB) -> dict[str, object]:
    with db.read() as s:
        return log.retirement_proof_bundle(s, retirement_id)


@router.post("/cancellations", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Cancel credits (registrar)", description="Cancelled units never move again." + WRITE_NOTE)
def cancel(body: schemas.CancellationCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        return schemas.MovementOut.of(
            credits.cancel_credits(s, caller, body.from_account, body.quantity_kg, body.to_selection(), body.reason)
        )
    return run_command(db, request, caller, body, command)


@router.post("/freezes", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Freeze credits in place (registrar): they cannot move until unfrozen")
def freeze(body: schemas.FreezeCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        return schemas.MovementOut.of(credits.set_frozen(s, caller, body.account, body.quantity_kg,
                                                         body.to_selection(), body.reason, frozen=True))
    return run_command(db, request, caller, body, command)


@router.post("/unfreezes", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Release frozen credits (registrar)")
def unfreeze(body: schemas.FreezeCreate, db: DB, caller: Caller, request: Request) -> Response:
    def command(s):  # type: ignore[no-untyped-def]
        return schemas.MovementOut.of(credits.set_frozen(s, caller, body.account, body.quantity_kg,
                                                         body.to_selection(), body.reason, frozen=False))
    return run_command(db, request, caller, body, command)


@router.get("/ledger-entries/{entry_id}/proof", tags=["log"],
            summary="Proof bundle of any ledger entry (an issuance, a transfer …), as for retirements",
            description="Verify with `cir verify-proof BUNDLE.json --key <GET /api/v1/log/key>`. "
                        "409 until the entry is in a signed checkpoint.")
def entry_proof(entry_id: int, db: DB) -> dict[str, object]:
    with db.read() as s:
        return log.entry_proof_bundle(s, entry_id)


@router.get("/ledger-entries/{entry_id}", response_model=schemas.LedgerEntryOut, tags=["log"],
            summary="A ledger entry by the id a write returned, with its leaf index once sequenced")
def ledger_entry(entry_id: int, db: DB) -> schemas.LedgerEntryOut:
    with db.read() as s:
        return queries.ledger_entry_out(s, entry_id)
