"""Public lists as JSON pages or, with `?format=csv` (or `Accept: text/csv`), a streamed CSV of
every matching row: the same query either way, so the export is exactly what the pages show."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from registry.db import Database
from registry.queries import MAX_PAGE, AnyRow, AnySelect, page, stream
from registry.schemas import Page

Cursor = Annotated[str | None, Query(max_length=200, description="From `next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Format = Annotated[Literal["json", "csv"] | None, Query(
    description="csv: every matching row as a CSV file, streamed (also with `Accept: text/csv`)")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON page; or with format=csv, every matching row as CSV"}}


def wants_csv(request: Request, format: str | None) -> bool:
    return format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))


def list_response(request: Request, db: Database, query: AnySelect, id_column: Any,
                  row_out: Callable[[AnyRow], BaseModel], model: type[BaseModel], cursor: str | None, limit: int,
                  format: str | None, filename: str) -> Response:
    if wants_csv(request, format):
        return StreamingResponse(_csv_rows(db, query, id_column, row_out, model), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    with db.read() as session:
        rows, next_cursor = page(session, query, id_column, cursor, limit)
        items = [row_out(row) for row in rows]
    body = Page[Any](items=items, next_cursor=next_cursor).model_dump(mode="json")
    return JSONResponse(body)


def csv_columns(model: type[BaseModel]) -> list[str]:
    """The model's fields that hold one value (lists and objects are left to the JSON)."""
    return [name for name, info in model.model_fields.items()
            if not (info.annotation is not None and getattr(info.annotation, "__origin__", None) in (list, dict))]


def _csv_rows(db: Database, query: AnySelect, id_column: Any, row_out: Callable[[AnyRow], BaseModel],
              model: type[BaseModel]) -> Iterator[str]:
    with db.read() as session:
        yield from _csv_text(stream(session, query, id_column, row_out), model)


def _csv_text(items: Iterable[BaseModel], model: type[BaseModel]) -> Iterator[str]:
    columns = csv_columns(model)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        values = item.model_dump(mode="json")
        writer.writerow(["" if values[c] is None else values[c] for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(items: Sequence[BaseModel], model: type[BaseModel], filename: str) -> Response:
    """A short list already read (a product's candles) as a CSV file."""
    return Response("".join(_csv_text(items, model)), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
