"""Trading errors, in the registry's categories (the API maps categories to statuses)."""

from registry.errors import Conflict, InvalidRequest, NotFound


class UnknownCashAccount(NotFound):
    code = "unknown-cash-account"


class UnknownOffer(NotFound):
    code = "unknown-offer"


class UnknownWithdrawal(NotFound):
    code = "unknown-withdrawal"


class UnknownPledge(NotFound):
    code = "unknown-pledge"


class CashAccountExists(Conflict):
    code = "cash-account-exists"


class CashAccountClosed(Conflict):
    code = "cash-account-closed"


class InsufficientCash(Conflict):
    code = "insufficient-cash"


class BankReferenceUsed(Conflict):
    """A bank reference is used once: the same deposit confirmed twice is refused."""

    code = "bank-reference-used"


class InvalidAmount(InvalidRequest):
    code = "invalid-amount"


class PriceOutOfBand(InvalidRequest):
    code = "price-out-of-band"


class OfferNotOpen(Conflict):
    """The offer was accepted, rejected, withdrawn or has expired."""

    code = "offer-not-open"


class WithdrawalNotRequested(Conflict):
    code = "withdrawal-not-requested"


class PledgeNotActive(Conflict):
    code = "pledge-not-active"


class PledgeNotMatured(Conflict):
    code = "pledge-not-matured"
