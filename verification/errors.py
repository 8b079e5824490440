"""Verification errors, in the registry's categories (the API maps categories to statuses)."""

from registry.errors import Conflict, InvalidRequest, NotFound, PermissionDenied


class UnknownBlob(NotFound):
    code = "unknown-upload"


class UploadTooLarge(InvalidRequest):
    code = "upload-too-large"


class UnknownReport(NotFound):
    code = "unknown-report"


class UnknownStatement(NotFound):
    code = "unknown-statement"


class UnknownAccreditation(NotFound):
    code = "unknown-accreditation"


class AssetAlreadyRegistered(Conflict):
    """A meter, charger or parcel is already in another active project (double counting)."""

    code = "asset-already-registered"


class ExternalRegistrationTaken(Conflict):
    code = "external-registration-taken"


class CreditedElsewhere(Conflict):
    """Another programme already credits these reductions (the registrar's imported list)."""

    code = "credited-elsewhere"


class OverlappingMonitoringPeriod(Conflict):
    code = "overlapping-monitoring-period"


class ValidationReportMissing(Conflict):
    """A project is registered only once its validator has filed a validation report."""

    code = "validation-report-missing"


class CreditingPeriodInvalid(InvalidRequest):
    code = "crediting-period-invalid"


class MonitoringDataInvalid(InvalidRequest):
    code = "monitoring-data-invalid"


class InvalidReportTransition(Conflict):
    code = "invalid-report-transition"


class NotAccredited(PermissionDenied):
    code = "verifier-not-accredited"


class OutsideAccreditationScope(PermissionDenied):
    code = "outside-accreditation-scope"


class ConflictOfInterest(PermissionDenied):
    code = "conflict-of-interest"


class StatementInvalid(InvalidRequest):
    """The statement does not describe this report as it stands, or claims more than computed."""

    code = "statement-invalid"


class StatementSignatureInvalid(InvalidRequest):
    code = "statement-signature-invalid"
