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


class UnknownRetirement(NotFound):
    code = "unknown-retirement"


class UnknownLogEntry(NotFound):
    code = "unknown-log-entry"


class NotAccountHolder(PermissionDenied):
    code = "not-account-holder"


class PartySuspended(PermissionDenied):
    code = "party-suspended"


class RoleRequired(PermissionDenied):
    code = "role-required"


class UnknownFilter(InvalidRequest):
    """A list was asked for with a query parameter it does not know: never silently ignored."""

    code = "unknown-filter"


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


class NotYetInCheckpoint(Conflict):
    code = "not-yet-in-checkpoint"


class UnknownApplication(NotFound):
    code = "unknown-application"


class InvalidApplication(InvalidRequest):
    """One or more fields of an application are missing or malformed; `problems` names each."""

    code = "invalid-application"

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or {}


class ClaimCodeMismatch(PermissionDenied):
    code = "claim-code-mismatch"


class ApplicationAlreadyDecided(Conflict):
    code = "application-already-decided"


class ApplicationNotApproved(Conflict):
    """The key of an application waiting for a decision, or rejected, cannot be claimed."""

    code = "application-not-approved"


class ApplicationAlreadyClaimed(Conflict):
    code = "application-already-claimed"
