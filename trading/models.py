"""Trading tables: market cash accounts and their double-entry journal, cash holds, withdrawals,
bilateral offers, products and their order book, trades and their lines, and pledges.

Money is integer fen. A cash account has two balances, `available_fen` and `held_fen` (cash
reserved for a withdrawal or a bid); they change only together with the journal lines that explain
them, in the same transaction (`trading.cash`), and a CHECK constraint, not an `if`, keeps them
from going negative. The clearing account mirrors the money at the settlement bank: it is the one
account that goes negative (its balance is minus all the cash in the market).
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import big_int, utcnow


class CashAccountKind(StrEnum):
    PARTY = "party"
    FEES = "fees"  # the market's fee income
    CLEARING = "clearing"  # the settlement bank's side of every deposit and withdrawal


class CashAccount(SQLModel, table=True):
    __tablename__ = "cash_account"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    party_id: int | None = Field(default=None, sa_column=Column(ForeignKey("party.id"), unique=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    available_fen: int = Field(default=0, sa_column=big_int(nullable=False))
    held_fen: int = Field(default=0, sa_column=big_int(nullable=False))
    status: str = Field(default="open", sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('party', 'fees', 'clearing')", name="cash_account_kind"),
        CheckConstraint("(kind = 'party') = (party_id IS NOT NULL)", name="cash_account_party_matches_kind"),
        CheckConstraint("kind = 'clearing' OR (available_fen >= 0 AND held_fen >= 0)",
                        name="cash_account_not_negative"),
        CheckConstraint("kind <> 'clearing' OR held_fen = 0", name="cash_clearing_holds_nothing"),
        CheckConstraint("status IN ('open', 'closed')", name="cash_account_status"),
    )


class CashEntry(SQLModel, table=True):
    """One balanced movement of cash: its lines sum to zero."""

    __tablename__ = "cash_entry"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    # What the movement is for: a trade, a withdrawal, an offer.
    reference: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    # The settlement bank's own reference, for deposits and paid withdrawals: used once.
    bank_reference: str | None = Field(default=None, sa_column=Column(String(60), unique=True))
    created_at: datetime = Field(default_factory=utcnow)


class CashLine(SQLModel, table=True):
    __tablename__ = "cash_line"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="cash_entry.id", index=True)
    account_id: int = Field(foreign_key="cash_account.id", index=True)
    bucket: str = Field(sa_column=Column(String(9), nullable=False))  # available or held
    amount_fen: int = Field(sa_column=big_int(nullable=False))  # + credits the bucket, − debits it

    __table_args__ = (
        CheckConstraint("bucket IN ('available', 'held')", name="cash_line_bucket"),
        CheckConstraint("amount_fen <> 0", name="cash_line_not_zero"),
    )


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"
    PAID = "paid"
    CANCELLED = "cancelled"


class Withdrawal(SQLModel, table=True):
    """Cash a party asked to be paid out: held from the request until the bank pays or it is cancelled."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    account_id: int = Field(foreign_key="cash_account.id", index=True)
    amount_fen: int = Field(sa_column=big_int(nullable=False))
    status: str = Field(default=WithdrawalStatus.REQUESTED.value, sa_column=Column(String(10), nullable=False))
    bank_reference: str | None = Field(default=None, sa_column=Column(String(60)))
    reason: str = ""
    requested_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None

    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="withdrawal_positive"),
        CheckConstraint("status IN ('requested', 'paid', 'cancelled')", name="withdrawal_status"),
        CheckConstraint("(status = 'paid') = (bank_reference IS NOT NULL)", name="withdrawal_paid_has_reference"),
    )


class CashHold(SQLModel, table=True):
    """Cash a buy order or an auction bid holds: `amount_fen` is what is still held for it. Trades pay
    from it; whatever is left when the order or bid closes returns to the free balance."""

    __tablename__ = "cash_hold"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(40), unique=True, nullable=False))  # the order or bid
    account_id: int = Field(foreign_key="cash_account.id", index=True)
    amount_fen: int = Field(sa_column=big_int(nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("amount_fen >= 0", name="cash_hold_not_negative"),)


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Offer(SQLModel, table=True):
    """A bilateral offer (协议转让) to a named buyer; its credits are locked under its public id."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    seller_party_id: int = Field(foreign_key="party.id", index=True)
    seller_account_id: int = Field(foreign_key="account.id")
    buyer_party_id: int = Field(foreign_key="party.id", index=True)
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    price_fen_per_t: int = Field(sa_column=big_int(nullable=False))
    expires_at: datetime
    status: str = Field(default=OfferStatus.OPEN.value, sa_column=Column(String(10), nullable=False))
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None

    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="offer_quantity_positive"),
        CheckConstraint("price_fen_per_t > 0", name="offer_price_positive"),
        CheckConstraint("status IN ('open', 'accepted', 'rejected', 'withdrawn', 'expired')", name="offer_status"),
        CheckConstraint("seller_party_id <> buyer_party_id", name="offer_not_to_oneself"),
        Index("ix_offer_open_expiry", "status", "expires_at"),  # expire_due_offers reads it often
    )


class ProductState(StrEnum):
    OPEN = "open"
    HALTED = "halted"  # no matching; only cancels are accepted
    CLOSED = "closed"  # delisted: no new orders


class CreditKind(StrEnum):
    ANY = "any"
    REDUCTIONS = "reductions"
    REMOVALS = "removals"


class Product(SQLModel, table=True):
    """A standard product (a basket): credits qualify if every unit meets its eligibility rules, so
    that many small lots trade as one fungible market on its order book."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(24), unique=True, nullable=False))
    name: str
    # Eligibility; an empty list means any.
    methodology_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    regions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    vintage_from: int | None = None
    vintage_to: int | None = None
    credit_kind: str = Field(default=CreditKind.ANY.value, sa_column=Column(String(10), nullable=False))
    lot_kg: int = Field(default=1000, sa_column=big_int(nullable=False))
    tick_fen: int = Field(default=1, sa_column=big_int(nullable=False))
    band_pct: int = 10
    # The price the first day's band is drawn around, until the product has a close of its own.
    reference_price_fen: int | None = Field(default=None, sa_column=big_int())
    # Trading sessions, local times in `timezone` ("09:30-11:30,13:00-15:00"), on ISO weekdays ("12345").
    sessions: str = Field(default="09:30-11:30,13:00-15:00", sa_column=Column(String(120), nullable=False))
    weekdays: str = Field(default="12345", sa_column=Column(String(7), nullable=False))
    timezone: str = Field(default="Asia/Shanghai", sa_column=Column(String(40), nullable=False))
    state: str = Field(default=ProductState.OPEN.value, sa_column=Column(String(8), nullable=False))
    state_reason: str = ""
    # Time priority: every order that rests (or loses its place by an amendment) takes the next number.
    last_priority: int = Field(default=0, sa_column=big_int(nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("lot_kg > 0 AND tick_fen > 0", name="product_lot_tick_positive"),
        CheckConstraint("band_pct > 0 AND band_pct <= 100", name="product_band"),
        CheckConstraint("state IN ('open', 'halted', 'closed')", name="product_state"),
        CheckConstraint("credit_kind IN ('any', 'reductions', 'removals')", name="product_credit_kind"),
    )


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    DAY = "day"  # good for the day: expires after the day's last session
    GTC = "gtc"  # good until cancelled
    IOC = "ioc"  # immediate or cancel: what does not fill at once is cancelled
    FOK = "fok"  # fill or kill: all at once or nothing


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class BookOrder(SQLModel, table=True):
    """An order on a product's book. A sell order locks its credits under its public id, a buy order
    holds its cash (a `CashHold` with the same reference); fills deliver and pay from them."""

    __tablename__ = "book_order"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    product_id: int = Field(foreign_key="product.id")
    party_id: int = Field(foreign_key="party.id", index=True)
    # The seller's account the credits come from, or the buyer's account they go to.
    account_id: int = Field(foreign_key="account.id")
    side: str = Field(sa_column=Column(String(4), nullable=False))
    kind: str = Field(sa_column=Column(String(6), nullable=False))  # limit or market
    time_in_force: str = Field(sa_column=Column(String(3), nullable=False))
    # A market order's price is the band's limit it may reach.
    price_fen_per_t: int = Field(sa_column=big_int(nullable=False))
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    filled_kg: int = Field(default=0, sa_column=big_int(nullable=False))
    status: str = Field(default=OrderStatus.OPEN.value, sa_column=Column(String(9), nullable=False))
    priority: int = Field(sa_column=big_int(nullable=False))
    trading_day: date
    status_reason: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="book_order_side"),
        CheckConstraint("kind IN ('limit', 'market')", name="book_order_kind"),
        CheckConstraint("time_in_force IN ('day', 'gtc', 'ioc', 'fok')", name="book_order_time_in_force"),
        CheckConstraint("status IN ('open', 'filled', 'cancelled', 'expired')", name="book_order_status"),
        CheckConstraint("quantity_kg > 0 AND price_fen_per_t > 0", name="book_order_positive"),
        CheckConstraint("filled_kg >= 0 AND filled_kg <= quantity_kg", name="book_order_never_overfilled"),
        CheckConstraint("(status = 'filled') = (filled_kg = quantity_kg)", name="book_order_filled_when_full"),
        # Matching reads the open orders of one side of one product by price, then time.
        Index("ix_book_order_matching", "product_id", "side", "status", "price_fen_per_t", "priority"),
    )


class AuctionRule(StrEnum):
    UNIFORM = "uniform"  # every winner pays the lowest accepted bid's price
    PAY_AS_BID = "pay_as_bid"  # every winner pays its own price


class AuctionStatus(StrEnum):
    OPEN = "open"  # announced; bids are taken inside the window
    SETTLED = "settled"  # cleared: something sold
    FAILED = "failed"  # cleared with no bid (流拍): the credits are released


class Auction(SQLModel, table=True):
    """A one-sided auction (单向竞价): a seller (or a pledgee enforcing a pledge) offers a lot; sealed
    bids lock cash inside a window; at the close the lot is allocated by price, then time, and
    everything settles in one transaction."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    # Who announced it: the seller, or the pledgee selling pledged credits.
    announcer_party_id: int = Field(foreign_key="party.id", index=True)
    # The holder of the credits (the seller itself, or the pledge's holder) and its account.
    seller_party_id: int = Field(foreign_key="party.id")
    account_id: int = Field(foreign_key="account.id")
    product_id: int | None = Field(default=None, foreign_key="product.id")
    pledge_id: int | None = Field(default=None, foreign_key="pledge.id")
    # The credits are locked under this reference: the auction's id, or the pledge's.
    lock_ref: str = Field(sa_column=Column(String(40), nullable=False))
    title: str
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    lot_kg: int = Field(sa_column=big_int(nullable=False))  # bids are whole multiples of it
    min_bid_kg: int = Field(sa_column=big_int(nullable=False))
    reserve_price_fen: int = Field(sa_column=big_int(nullable=False))
    tick_fen: int = Field(sa_column=big_int(nullable=False))
    rule: str = Field(sa_column=Column(String(10), nullable=False))
    # A pledgee is paid first, up to what the loan secures; the rest goes to the holder.
    secured_amount_fen: int | None = Field(default=None, sa_column=big_int())
    opens_at: datetime
    closes_at: datetime
    status: str = Field(default=AuctionStatus.OPEN.value, sa_column=Column(String(8), nullable=False))
    # Published at the close.
    clearing_price_fen: int | None = Field(default=None, sa_column=big_int())
    sold_kg: int = Field(default=0, sa_column=big_int(nullable=False))
    bidders: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    settled_at: datetime | None = None

    __table_args__ = (
        CheckConstraint("quantity_kg > 0 AND lot_kg > 0 AND min_bid_kg > 0", name="auction_quantities"),
        CheckConstraint("reserve_price_fen > 0 AND tick_fen > 0", name="auction_prices"),
        CheckConstraint("rule IN ('uniform', 'pay_as_bid')", name="auction_rule"),
        CheckConstraint("status IN ('open', 'settled', 'failed')", name="auction_status"),
        CheckConstraint("opens_at < closes_at", name="auction_window"),
        CheckConstraint("sold_kg >= 0 AND sold_kg <= quantity_kg", name="auction_never_oversold"),
        Index("ix_auction_status_close", "status", "closes_at"),
    )


class BidStatus(StrEnum):
    SEALED = "sealed"  # in the window: only its bidder sees it
    WON = "won"
    PARTLY_WON = "partly_won"
    LOST = "lost"


class AuctionBid(SQLModel, table=True):
    """A sealed bid: its cash is held (a `CashHold` under its id) until the auction clears."""

    __tablename__ = "auction_bid"

    id: int | None = Field(default=None, primary_key=True)  # time priority among equal prices
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    auction_id: int = Field(foreign_key="auction.id")
    party_id: int = Field(foreign_key="party.id", index=True)
    account_id: int = Field(foreign_key="account.id")  # the bidder's account the credits go to
    price_fen_per_t: int = Field(sa_column=big_int(nullable=False))
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    allocated_kg: int = Field(default=0, sa_column=big_int(nullable=False))
    status: str = Field(default=BidStatus.SEALED.value, sa_column=Column(String(10), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("quantity_kg > 0 AND price_fen_per_t > 0", name="auction_bid_positive"),
        CheckConstraint("allocated_kg >= 0 AND allocated_kg <= quantity_kg", name="auction_bid_allocation"),
        CheckConstraint("status IN ('sealed', 'won', 'partly_won', 'lost')", name="auction_bid_status"),
        Index("ix_auction_bid_ranking", "auction_id", "price_fen_per_t", "id"),
    )


class Trade(SQLModel, table=True):
    """A settled trade: credits delivered (a `deliver` ledger entry) and cash paid (a cash entry), in
    one transaction."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    mode: str = Field(sa_column=Column(String(10), nullable=False))
    offer_id: int | None = Field(default=None, sa_column=Column(ForeignKey("offer.id"), unique=True))
    seller_party_id: int = Field(foreign_key="party.id", index=True)
    buyer_party_id: int = Field(foreign_key="party.id", index=True)
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    price_fen_per_t: int = Field(sa_column=big_int(nullable=False))
    amount_fen: int = Field(sa_column=big_int(nullable=False))
    buyer_fee_fen: int = Field(sa_column=big_int(nullable=False))
    seller_fee_fen: int = Field(sa_column=big_int(nullable=False))
    cross_regional: bool
    ledger_entry_id: int = Field(sa_column=big_int(ForeignKey("ledger_entry.id"), nullable=False))
    cash_entry_id: int = Field(foreign_key="cash_entry.id")
    # On the book or in an auction: the product, the product's trading day, and the buy and sell
    # orders (or the auction's bid and lot) that met.
    product_id: int | None = Field(default=None, foreign_key="product.id")
    trading_day: date | None = None
    buy_ref: str | None = Field(default=None, sa_column=Column(String(40)))
    sell_ref: str | None = Field(default=None, sa_column=Column(String(40)))
    executed_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("mode IN ('bilateral', 'book', 'auction')", name="trade_mode"),
        CheckConstraint("quantity_kg > 0 AND price_fen_per_t > 0", name="trade_positive"),
        CheckConstraint("amount_fen >= 0 AND buyer_fee_fen >= 0 AND seller_fee_fen >= 0", name="trade_money"),
        Index("ix_trade_executed", "executed_at"),
        Index("ix_trade_product_day", "product_id", "trading_day"),
    )


class TradeLine(SQLModel, table=True):
    """What a trade delivered, by methodology, vintage and origin region: the public tape's rows."""

    __tablename__ = "trade_line"

    id: int | None = Field(default=None, primary_key=True)
    trade_id: int = Field(foreign_key="trade.id", index=True)
    methodology_id: str = Field(sa_column=Column(String(40), nullable=False))
    vintage: int
    region: str = Field(sa_column=Column(String(6), nullable=False))
    quantity_kg: int = Field(sa_column=big_int(nullable=False))

    __table_args__ = (
        UniqueConstraint("trade_id", "methodology_id", "vintage", "region", name="trade_line_once"),
        CheckConstraint("quantity_kg > 0", name="trade_line_positive"),
    )


class PledgeStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    ENFORCED = "enforced"


class Pledge(SQLModel, table=True):
    """Credits pledged (质押) to a pledgee for a loan: locked under the pledge's id until the
    pledgee releases them or, after maturity, enforces and takes them."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    holder_party_id: int = Field(foreign_key="party.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    pledgee_party_id: int = Field(foreign_key="party.id", index=True)
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    loan_reference: str = Field(sa_column=Column(String(60), nullable=False))
    maturity: date
    status: str = Field(default=PledgeStatus.ACTIVE.value, sa_column=Column(String(10), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None

    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="pledge_quantity_positive"),
        CheckConstraint("status IN ('active', 'released', 'enforced')", name="pledge_status"),
        CheckConstraint("holder_party_id <> pledgee_party_id", name="pledge_not_to_oneself"),
    )
