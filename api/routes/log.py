"""The public transparency-log endpoints, exactly as DESIGN.md fixes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse

from api.deps import DB, Signer
from registry import errors
from registry.ledger import log
from registry.models import MAX_INT64

router = APIRouter(prefix="/api/v1/log", tags=["log"])

NonNegative = Annotated[int, Query(ge=0, le=MAX_INT64)]
Positive = Annotated[int, Query(ge=1, le=MAX_INT64)]


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)")
def checkpoint(db: DB) -> PlainTextResponse:
    with db.read() as s:
        latest = log.latest_checkpoint(s)
    if latest is None:
        raise errors.NotYetInCheckpoint("the log has no checkpoint yet: nothing has been recorded")
    return PlainTextResponse(latest.note)


@router.get("/key", response_class=PlainTextResponse,
            summary="The verifier key: <name>+<hex key id>+<base64(0x01 || Ed25519 public key)>")
def key(signer: Signer) -> PlainTextResponse:
    return PlainTextResponse(signer.verifier_key + "\n")


@router.get("/entries/{index}", summary="The entry at a leaf index: its canonical JSON bytes",
            response_class=Response, responses={200: {"content": {"application/json": {}}}})
def entry(index: Annotated[int, Path(ge=0, le=MAX_INT64)], db: DB) -> Response:
    with db.read() as s:
        return Response(log.entry_at(s, index), media_type="application/json")


@router.get("/proof/inclusion", summary="RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size`")
def inclusion(db: DB, index: NonNegative, tree_size: Positive) -> dict[str, object]:
    with db.read() as s:
        hashes = log.inclusion_proof(s, index, tree_size)
    return {"leaf_index": index, "tree_size": tree_size, "hashes": log.b64(hashes)}


@router.get("/proof/consistency", summary="RFC 9162 consistency proof between tree sizes `old` and `new`")
def consistency(db: DB, old: Positive, new: Positive) -> dict[str, object]:
    with db.read() as s:
        hashes = log.consistency_proof(s, old, new)
    return {"old_size": old, "new_size": new, "hashes": log.b64(hashes)}
