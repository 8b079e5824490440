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


class UnknownProduct(NotFound):
    code = "unknown-product"


class ProductExists(Conflict):
    code = "product-exists"


class ProductHalted(Conflict):
    """Halted: no matching, and only cancellations are accepted."""

    code = "product-halted"


class ProductNotOpen(Conflict):
    code = "product-closed"


class MarketClosed(Conflict):
    """Outside the product's trading sessions."""

    code = "market-closed"


class UnknownOrder(NotFound):
    code = "unknown-order"


class OrderNotOpen(Conflict):
    """The order was filled, cancelled or has expired."""

    code = "order-not-open"


class IneligibleCredits(Conflict):
    """Some units offered do not meet the product's eligibility rules."""

    code = "ineligible-credits"


class PriceOffTick(InvalidRequest):
    code = "price-off-tick"


class QuantityOffLot(InvalidRequest):
    code = "quantity-off-lot"


class NoReferencePrice(Conflict):
    """A market order needs a band to be bounded by: the product has no close and no reference price."""

    code = "no-reference-price"


class UnknownAuction(NotFound):
    code = "unknown-auction"


class AuctionNotOpen(Conflict):
    """Outside the bid window, or already cleared."""

    code = "auction-not-open"


class AuctionStillOpen(Conflict):
    """An auction clears after its window closes."""

    code = "auction-still-open"


class BidBelowReserve(InvalidRequest):
    code = "bid-below-reserve"
