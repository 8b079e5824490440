"""Net-zero errors, in the registry's categories (the API maps categories to statuses)."""

from registry.errors import Conflict, InvalidRequest, NotFound


class UnknownFacility(NotFound):
    code = "unknown-facility"


class UnknownInventory(NotFound):
    code = "unknown-inventory"


class UnknownClaim(NotFound):
    code = "unknown-claim"


class UnknownCertificate(NotFound):
    code = "unknown-certificate"


class ActivityDataInvalid(InvalidRequest):
    """The activity data cannot be calculated: an unknown factor or unit, a negative amount, a
    missing column. The message names every line and column at fault."""

    code = "activity-data-invalid"


class ReportingPeriodInvalid(InvalidRequest):
    code = "reporting-period-invalid"


class GreenCertificateClaimed(Conflict):
    code = "green-certificate-claimed"


class InvalidInventoryTransition(Conflict):
    code = "invalid-inventory-transition"


class InventoryNotVerified(Conflict):
    code = "inventory-not-verified"


class RetirementWindowClosed(Conflict):
    code = "retirement-window-closed"


class RetirementNotEligible(Conflict):
    """An existing retirement that cannot back this claim: another party's, another period's, or
    already backing a claim."""

    code = "retirement-not-eligible"


class ClaimNotCovered(Conflict):
    code = "claim-not-covered"


class GreenCertificateFlagged(Conflict):
    """A claimed GEC comes from a PV project of this registry whose reports do not deduct it."""

    code = "green-certificate-flagged"


class CertificateAlreadyIssued(Conflict):
    code = "certificate-already-issued"


class CertificateRevoked(Conflict):
    code = "certificate-revoked"
