"""Domain errors. Each has a stable `code`; the API maps the category to an HTTP status."""

from __future__ import annotations


class RegistryError(Exception):
    code = "registry-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    code = "not-found"


class PermissionDenied(RegistryError):
    code = "permission-denied"


class InvalidRequest(RegistryError):
    """The request is malformed in a way the schema could not catch."""

    code = "invalid-request"


class Conflict(RegistryError):
    """The request is well-formed but the registry's state does not allow it."""

    code = "conflict"


class UnknownAccount(NotFound):
    code = "unknown-account"


class UnknownParty(NotFound):
    code = "unknown-party"


class UnknownProject(NotFound):
    code = "unknown-project"


class UnknownIssuance(NotFound):
    code = "unknown-issuance"


class UnknownBlock(NotFound):
    code = "unknown-block"


class UnknownRetirement(NotFound):
    code = "unknown-retirement"


class UnknownLogEntry(NotFound):
    code = "unknown-log-entry"


class NotAccountHolder(PermissionDenied):
    code = "not-account-holder"


class RoleRequired(PermissionDenied):
    code = "role-required"


class InvalidQuantity(InvalidRequest):
    code = "invalid-quantity"


class InvalidSerialRange(InvalidRequest):
    code = "invalid-serial-range"


class InvalidProjectTransition(Conflict):
    code = "invalid-project-transition"


class ProjectNotRegistered(Conflict):
    code = "project-not-registered"


class InsufficientCredits(Conflict):
    code = "insufficient-credits"


class CreditsNotAvailable(Conflict):
    """The named units exist but are frozen, retired, cancelled or held by someone else."""

    code = "credits-not-available"


class AccountClosed(Conflict):
    code = "account-not-usable"


class NotYetInCheckpoint(Conflict):
    code = "not-yet-in-checkpoint"
