"""Every error leaves the API as RFC 9457 problem details (`application/problem+json`).

Domain errors map here, in one place, by category; their stable `code` becomes the problem type
`urn:cir:problem:<code>`. Unexpected errors become a generic 500 that reveals nothing internal.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi_problem.error import Problem, StatusProblem
from fastapi_problem.handler import ExceptionHandler, add_exception_handler, new_exception_handler
from sqlalchemy.exc import IntegrityError

from registry import errors
from verification.errors import UploadTooLarge

log = logging.getLogger("cir.api")

PROBLEM_TYPE_URI = "urn:cir:problem:{type}"

STATUS_BY_CATEGORY: list[tuple[type[errors.RegistryError], int]] = [
    (UploadTooLarge, 413),
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
    # A database constraint caught what the service did not: report a conflict, not a crash.
    log.warning("constraint violation: %s", exc.orig)
    return Problem(title="Conflict.", type_="constraint-violation", status=409,
                   detail="The request conflicts with the registry's current state; nothing was changed.")


def install_problem_handlers(app: FastAPI) -> None:
    handler = new_exception_handler(
        logger=log,
        unhandled_wrappers={"default": InternalError},
        handlers={errors.RegistryError: _registry_error, IntegrityError: _integrity_error},  # type: ignore[dict-item]
        documentation_uri_template=PROBLEM_TYPE_URI,
    )
    add_exception_handler(app, handler)
    # Expected errors are handled by Starlette's exception middleware, not the catch-all for
    # crashes (which logs a traceback and re-raises).
    app.add_exception_handler(errors.RegistryError, handler)
    app.add_exception_handler(IntegrityError, handler)
