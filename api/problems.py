"""Every error leaves the API as RFC 9457 problem details (`application/problem+json`).

Domain errors map here, in one place, by category; their stable `code` becomes the problem type
`urn:cir:problem:<code>`. Bad input is a 4xx before it reaches a service or the database: a
request's path and query may not hold NUL or unpaired surrogates (`RequestTextGuard`), and JSON
bodies are checked by `registry.schemas.Strict`. Unexpected errors become a generic 500 that
reveals nothing internal, and the connection stays usable (`CrashGuard`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_problem.error import Problem, StatusProblem
from fastapi_problem.handler import ExceptionHandler, add_exception_handler, new_exception_handler
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry import errors
from verification.errors import UploadTooLarge

log = logging.getLogger("cir.api")

PROBLEM_TYPE_URI = "urn:cir:problem:{type}"

STATUS_BY_CATEGORY: list[tuple[type[errors.RegistryError], int]] = [
    (UploadTooLarge, 413),
    (errors.UnknownFilter, 400),
    (errors.NotYetInCheckpoint, 409),
    (errors.NotFound, 404),
    (errors.PermissionDenied, 403),
    (errors.InvalidRequest, 422),
    (errors.Conflict, 409),
]


class Unauthorized(StatusProblem):
    type_ = "unauthorized"
    title = "Missing or unknown API key."
    status = 401
    headers_ = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012  (the library's class attribute)


class InternalError(StatusProblem):
    type_ = "internal-error"
    title = "The registry could not complete the request. Nothing was changed."
    status = 500

    def __init__(self, _message: str | None = None, **_: Any) -> None:
        super().__init__()  # never echo the exception text: it may hold SQL or paths


def _registry_error(_eh: ExceptionHandler, _request: Request, exc: errors.RegistryError) -> Problem:
    status = next(code for cls, code in STATUS_BY_CATEGORY if isinstance(exc, cls))
    title = exc.code.replace("-", " ").capitalize() + "."
    return Problem(title=title, type_=exc.code, detail=exc.message, status=status)


def _integrity_error(_eh: ExceptionHandler, _request: Request, exc: IntegrityError) -> Problem:
    # A database constraint caught what the service did not: report a conflict, not a crash. The
    # log names the constraint only: the driver's message details the values (keys, names).
    log.warning("constraint violation: %s", _first_line(exc.orig))
    return Problem(title="Conflict.", type_="constraint-violation", status=409,
                   detail="The request conflicts with the registry's current state; nothing was changed.")


def _data_error(_eh: ExceptionHandler, _request: Request, exc: DataError) -> Problem:
    # A value the schema let through but the database cannot store (a number out of its range).
    log.warning("value refused by the database: %s", _first_line(exc.orig))
    return Problem(title="Invalid request.", type_="invalid-request", status=422,
                   detail="A value in the request is out of the range the registry stores; nothing was changed.")


def _first_line(error: BaseException | None) -> str:
    return str(error).splitlines()[0] if error is not None and str(error) else type(error).__name__


def _validation_error(_eh: ExceptionHandler, _request: Request, exc: RequestValidationError) -> Problem:
    """Where each field went wrong and why, without echoing the input (it may hold secrets, NaN or
    text that cannot be encoded back)."""
    found = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
             for e in exc.errors()]
    return Problem(title="Request validation error.", type_="request-validation-failed", status=422,
                   detail="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in found[:5]),
                   errors=found)


def _unencodable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate, from %ED%A0%80 or a JSON "\ud800"
        return True
    return False


class RequestTextGuard:
    """Refuses (422) a request whose path or query holds NUL or an unpaired surrogate: no database
    stores them, and PostgreSQL rejects NUL outright."""

    def __init__(self, app: ASGIApp, handler: ExceptionHandler) -> None:
        self.app, self.handler = app, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote_plus(scope.get("query_string", b"").decode("latin-1"), errors="surrogateescape")
            if _unencodable(scope["path"]) or _unencodable(query):
                problem = errors.InvalidRequest("the request's path or query holds a NUL character or text that "
                                                "is not valid UTF-8")
                await self.handler(Request(scope, receive), problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CrashGuard:
    """Turns an unexpected exception into the generic 500 problem and logs it once, without
    re-raising: Starlette's outermost middleware re-raises after answering, which makes the server
    close the connection, and the client's next request on it fails."""

    def __init__(self, app: ASGIApp, handler: ExceptionHandler) -> None:
        self.app, self.handler = app, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            _log_crash(scope, exc)
            if started:  # too late to answer: let the server close the connection
                raise
            await self.handler(Request(scope, receive), exc)(scope, receive, send)


def _log_crash(scope: Scope, exc: Exception) -> None:
    """The traceback, and for a database error its statement and the first line of the database's
    message only: the rest of that message, and the bound parameters, can hold key hashes and names."""
    if isinstance(exc, DBAPIError):
        what = f"{type(exc.orig).__name__}: {_first_line(exc.orig)} [SQL: {exc.statement}]"
    else:
        what = f"{type(exc).__name__}: {exc}"
    log.error("unexpected error in %s %s: %s\n%s", scope.get("method"), scope.get("path"), what,
              "".join(traceback.format_tb(exc.__traceback__)))


def install_problem_handlers(app: FastAPI) -> None:
    handlers: dict[type[Exception], Callable[..., Problem]] = {
        errors.RegistryError: _registry_error, IntegrityError: _integrity_error, DataError: _data_error,
    }
    handler = new_exception_handler(
        logger=None,  # CrashGuard logs what reaches it, without the database's details
        unhandled_wrappers={"default": InternalError},
        handlers=handlers,
        request_validation_handler=_validation_error,
        documentation_uri_template=PROBLEM_TYPE_URI,
    )
    add_exception_handler(app, handler)
    # Expected errors are handled by Starlette's exception middleware, not the catch-all for
    # crashes (which logs a traceback and re-raises).
    for expected in (errors.RegistryError, IntegrityError, DataError):
        app.add_exception_handler(expected, handler)
    app.add_middleware(CrashGuard, handler=handler)
    app.add_middleware(RequestTextGuard, handler=handler)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what is sent: every 422 is a problem; `errors` comes with request
    validation (which field, why) and not with a refusal by the registry's rules."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        component = document.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if component is not None and "errors" in component.get("required", []):
            component["required"] = [name for name in component["required"] if name != "errors"]
            component["title"] = "Problem (422)"
            component["description"] = (
                "RFC 9457 problem details. Request validation failures (type "
                "`urn:cir:problem:request-validation-failed`) list each field in `errors`; a refusal by the "
                "registry's rules (e.g. `urn:cir:problem:invalid-quantity`) carries `detail` and no `errors`.")
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
