"""Issuance, transfer, retirement, cancellation and freezing of serial-numbered credits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB
from api.listing import CSV_RESPONSE, Cursor, Format, Limit, list_response
from registry import credits, queries, schemas
from registry.ledger import log
from registry.models import MAX_INT64, CreditBlock, Issuance, Party, Retirement
from verification import flows
from verification import queries as verification_queries
from verification.schemas import SignedStatementOut

router = APIRouter(prefix="/api/v1")

VintageQuery = Annotated[int | None, Query(ge=2000, le=2100, description="A vintage year")]
EntryId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The ledger entry id a write returned")]
WRITE_NOTE = " Send an `Idempotency-Key` header to make a retry return the first result."


@router.post("/issuances", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Issue credits for a registered project and vintage (registrar)",
             description="Creates one serial-numbered block of `quantity_kg` units." + WRITE_NOTE)
def issue(body: schemas.IssuanceCreate, write: Write) -> Response:
    return write(body, _issue, body)


def _issue(s: Session, caller: Party, body: schemas.IssuanceCreate) -> schemas.MovementOut:
    _, movement = credits.issue_credits(s, caller, body.project, body.vintage, body.quantity_kg, body.to_account,
                                        body.verification_statement_sha256)
    return schemas.MovementOut.of(movement)


@router.get("/issuances", response_model=schemas.Page[schemas.IssuanceOut], responses=CSV_RESPONSE,
            tags=["credits"], summary="Search the issuances (public); ?format=csv exports every match")
def list_issuances(
    request: Request, db: DB, project: str | None = None, vintage: VintageQuery = None,
    methodology_id: str | None = None, region: str | None = None, cursor: Cursor = None, limit: Limit = 50,
    format: Format = None,
) -> Response:
    query = queries.issuances_query(queries.IssuanceFilters(project, vintage, methodology_id, region))
    return list_response(request, db, query, col(Issuance.id), queries.issuance_row_out, schemas.IssuanceOut,
                         cursor, limit, format, "issuances.csv")


@router.get("/issuances/{issuance_id}", response_model=schemas.IssuanceOut, tags=["credits"])
def get_issuance(issuance_id: str, db: DB) -> schemas.IssuanceOut:
    with db.read() as s:
        return queries.issuance_out(s, issuance_id)


@router.get("/issuances/{issuance_id}/statement", response_model=SignedStatementOut, tags=["credits", "verification"],
            summary="The verifier's signed statement behind an issuance (public)",
            description="Check it offline with the verifier's published key: `cir verify-statement FILE`. Its "
                        "SHA-256 is the issuance's `verification_statement_sha256`.")
def issuance_statement(issuance_id: str, db: DB) -> SignedStatementOut:
    with db.read() as s:
        signed = flows.issuance_statement(s, issuance_id)
        verifier = verification_queries.accreditation_out(s, signed.accreditation)
    return SignedStatementOut(statement=signed.statement, signature=signed.signature_b64, sha256=signed.sha256,
                              verifier=verifier)


@router.get("/blocks", response_model=schemas.Page[schemas.PublicBlockOut], responses=CSV_RESPONSE,
            tags=["credits"], summary="Where each unit of a serial range (or an issuance) stands now (public)")
def public_blocks(
    request: Request, db: DB, serial: Annotated[str | None, Query(max_length=200, description=(
        "A serial, e.g. CN-JS:CIR-PV-DG:1.0:P000001:2025:I001:000000001-000005000:X"))] = None,
    issuance: str | None = None, cursor: Cursor = None, limit: Limit = 50, format: Format = None,
) -> Response:
    query = queries.public_blocks_query(serial, issuance)
    return list_response(request, db, query, col(CreditBlock.id), queries.public_block_row_out,
                         schemas.PublicBlockOut, cursor, limit, format, "blocks.csv")


@router.post("/transfers", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Transfer credits: an exact serial range, or a quantity oldest vintage first",
             description="Partial blocks are split; the parts keep the serial ranges they cover." + WRITE_NOTE)
def transfer(body: schemas.TransferCreate, write: Write) -> Response:
    return write(body, _transfer, body)


def _transfer(s: Session, caller: Party, body: schemas.TransferCreate) -> schemas.MovementOut:
    movement = credits.transfer_credits(s, caller, body.from_account, body.to_account, body.quantity_kg,
                                        body.to_selection())
    return schemas.MovementOut.of(movement)


@router.post("/transfers/batch", status_code=201, response_model=schemas.TransferBatchOut, tags=["credits"],
             summary="Many transfers in one command, all or none: an aggregator distributing to its households",
             description=f"Up to {credits.MAX_BATCH:,} transfers, each of the oldest units of its source account, "
                         "done in the order given, each with its own ledger entry. If any transfer is refused, "
                         "none is done, and the problem names the transfer (numbered from 1). With `issuance`, "
                         "every transfer takes units of that issuance only." + WRITE_NOTE)
def transfer_batch(body: schemas.TransferBatchCreate, write: Write) -> Response:
    return write(body, _transfer_batch, body)


def _transfer_batch(s: Session, caller: Party, body: schemas.TransferBatchCreate) -> schemas.TransferBatchOut:
    return schemas.TransferBatchOut(transfers=[
        schemas.MovementOut.of(movement)
        for movement in credits.transfer_batch(s, caller, body.to_batch(), body.to_selection())])


@router.post("/retirements", status_code=201, response_model=schemas.RetirementOut, tags=["retirements"],
             summary="Retire credits for a beneficiary and claim period; retired units never move again",
             description="The proof bundle is ready at `proof_url` once the next checkpoint is signed "
                         "(about a second)." + WRITE_NOTE)
def retire(body: schemas.RetirementCreate, write: Write) -> Response:
    return write(body, _retire, body)


def _retire(s: Session, caller: Party, body: schemas.RetirementCreate) -> schemas.RetirementOut:
    retirement, movement = credits.retire_credits(s, caller, body.from_account, body.quantity_kg,
                                                  body.to_selection(), body.to_details())
    return queries.retirement_made_out(retirement, movement)


@router.post("/retirements/batch", status_code=201, response_model=schemas.RetirementBatchOut,
             tags=["retirements"],
             summary="Many retirements in one command, all or none: a platform retiring for each of its users",
             description=f"Up to {credits.MAX_BATCH:,} retirements, each of the oldest units of its account, done in "
                         "the order given, each with its own retirement record and ledger entry, by the rules of a "
                         "single retirement. If any is refused, none is done, and the problem names the retirement "
                         "(numbered from 1)." + WRITE_NOTE)
def retire_batch(body: schemas.RetirementBatchCreate, write: Write) -> Response:
    return write(body, _retire_batch, body)


def _retire_batch(s: Session, caller: Party, body: schemas.RetirementBatchCreate) -> schemas.RetirementBatchOut:
    return schemas.RetirementBatchOut(retirements=[schemas.MovementOut.of(movement)
                                                   for movement in credits.retire_batch(s, caller, body.to_batch())])


@router.get("/retirements", response_model=schemas.Page[schemas.RetirementOut], responses=CSV_RESPONSE,
            tags=["retirements"], summary="Search the retirements (public); ?format=csv exports every match")
def list_retirements(
    request: Request, db: DB, project: str | None = None, vintage: VintageQuery = None,
    beneficiary: Annotated[str | None, Query(max_length=200, description="Part of the beneficiary's name, any case")
                           ] = None,
    account: str | None = None,
    claim_period_start: Annotated[date | None, Query(description="Claim periods that end on or after this day")
                                  ] = None,
    claim_period_end: Annotated[date | None, Query(description="Claim periods that start on or before this day")
                                ] = None,
    retired_from: datetime | None = None, retired_until: datetime | None = None,
    cursor: Cursor = None, limit: Limit = 50, format: Format = None,
) -> Response:
    query = queries.retirements_query(queries.RetirementFilters(
        project, vintage, beneficiary, account, claim_period_start, claim_period_end, retired_from, retired_until))
    return list_response(request, db, query, col(Retirement.id), queries.retirement_row_out, schemas.RetirementOut,
                         cursor, limit, format, "retirements.csv")


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
def cancel(body: schemas.CancellationCreate, write: Write) -> Response:
    return write(body, _cancel, body)


def _cancel(s: Session, caller: Party, body: schemas.CancellationCreate) -> schemas.MovementOut:
    return schemas.MovementOut.of(
        credits.cancel_credits(s, caller, body.from_account, body.quantity_kg, body.to_selection(), body.reason))


@router.post("/freezes", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Freeze credits in place (registrar): they cannot move until unfrozen")
def freeze(body: schemas.FreezeCreate, write: Write) -> Response:
    return write(body, _set_frozen, body, True)


@router.post("/unfreezes", status_code=201, response_model=schemas.MovementOut, tags=["credits"],
             summary="Release frozen credits (registrar)")
def unfreeze(body: schemas.FreezeCreate, write: Write) -> Response:
    return write(body, _set_frozen, body, False)


def _set_frozen(s: Session, caller: Party, body: schemas.FreezeCreate, frozen: bool) -> schemas.MovementOut:
    return schemas.MovementOut.of(
        credits.set_frozen(s, caller, body.account, body.quantity_kg, body.to_selection(), body.reason, frozen))


@router.get("/ledger-entries/{entry_id}/proof", tags=["log"],
            summary="Proof bundle of any ledger entry (an issuance, a transfer …), as for retirements",
            description="Verify with `cir verify-proof BUNDLE.json --key <GET /api/v1/log/key>`. "
                        "409 until the entry is in a signed checkpoint.")
def entry_proof(entry_id: EntryId, db: DB) -> dict[str, object]:
    with db.read() as s:
        return log.entry_proof_bundle(s, entry_id)


@router.get("/ledger-entries/{entry_id}", response_model=schemas.LedgerEntryOut, tags=["log"],
            summary="A ledger entry by the id a write returned, with its leaf index once sequenced")
def ledger_entry(entry_id: EntryId, db: DB) -> schemas.LedgerEntryOut:
    with db.read() as s:
        return queries.ledger_entry_out(s, entry_id)
