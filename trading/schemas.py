"""Request and response shapes of the trading API. Money is integer fen; prices fen per tonne."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from registry.schemas import CreditSelection, Name, SerialRangeIn, Strict
from trading.cash import MAX_AMOUNT_FEN

Fen = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN, description="Integer fen (0.01 yuan)")]
PricePerTonne = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN, description="Fen per tonne CO2e")]
BankReference = Annotated[str, Field(min_length=1, max_length=60, description="The bank's own reference, used once")]


class CashAccountOut(BaseModel):
    id: str
    party: str | None
    kind: str
    available_fen: int = Field(description="Free to spend or withdraw")
    held_fen: int = Field(description="Held for a withdrawal the bank has not paid yet")
    status: str


class CashLineOut(BaseModel):
    entry: str
    kind: str
    reference: str
    bank_reference: str | None
    bucket: Literal["available", "held"]
    amount_fen: int
    at: datetime


class DepositIn(Strict):
    account: str
    amount_fen: Fen
    bank_reference: BankReference


class CashEntryOut(BaseModel):
    id: str
    kind: str
    reference: str
    bank_reference: str | None
    created_at: datetime


class WithdrawalIn(Strict):
    amount_fen: Fen


class WithdrawalPayment(Strict):
    bank_reference: BankReference


class WithdrawalCancellation(Strict):
    reason: str = Field("", max_length=500)


class WithdrawalOut(BaseModel):
    id: str
    account: str
    amount_fen: int
    status: str
    bank_reference: str | None
    reason: str
    requested_at: datetime
    decided_at: datetime | None


class OfferIn(CreditSelection):
    buyer: str = Field(description="The buyer party's id")
    from_account: str
    price_fen_per_t: PricePerTonne
    expires_at: datetime = Field(description="Within 90 days")
    note: str = Field("", max_length=500)


class OfferOut(BaseModel):
    id: str
    seller: str
    seller_name: str
    buyer: str
    buyer_name: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int = Field(description="What the buyer pays before fees: kg × price ÷ 1,000, rounded down")
    expires_at: datetime
    status: str
    note: str
    created_at: datetime
    trade: str | None


class Acceptance(Strict):
    to_account: str = Field(description="Your holding account that receives the credits")


class Rejection(Strict):
    reason: str = Field("", max_length=500)


class UnitsOut(BaseModel):
    issuance: str
    serial: str
    first_unit: int
    last_unit: int


class TradeOut(BaseModel):
    id: str
    mode: str
    product: str | None = Field(description="The product, for book and auction trades")
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    cross_regional: bool
    seller: str
    buyer: str
    ledger_entry: int
    units: list[UnitsOut] = Field(description="The serial ranges delivered (from the trade's ledger entry)")
    executed_at: datetime


class TapeRow(BaseModel):
    id: str = Field(description="The trade")
    mode: str
    product: str | None
    quantity_kg: int
    price_fen_per_t: int
    methodology: str
    vintage: int
    region: str
    cross_regional: bool
    executed_at: datetime


class PledgeIn(CreditSelection):
    pledgee: str = Field(description="The bank's party id")
    from_account: str
    loan_reference: Name
    maturity: date


class PledgeOut(BaseModel):
    id: str
    holder: str
    account: str
    pledgee: str
    quantity_kg: int
    loan_reference: str
    maturity: date
    status: str
    created_at: datetime
    closed_at: datetime | None


class Enforcement(Strict):
    to_account: str = Field(description="The pledgee's holding account that takes the credits")


# --- products and the order book --------------------------------------------------------------------

ProductCode = Annotated[str, Field(min_length=2, max_length=24, pattern=r"^[A-Z0-9][A-Z0-9-]+$",
                                   description="e.g. SZ-PV-2025")]


class ProductIn(Strict):
    code: ProductCode
    name: Name
    methodology_ids: list[str] = Field(default_factory=list, max_length=20, description="Empty: any")
    regions: list[Annotated[str, Field(max_length=6)]] = Field(
        default_factory=list, max_length=40, description="Regions the credits come from (ISO 3166-2); empty: any")
    vintage_from: Annotated[int, Field(ge=2000, le=2100)] | None = None
    vintage_to: Annotated[int, Field(ge=2000, le=2100)] | None = None
    credit_kind: Literal["any", "reductions", "removals"] = "any"
    lot_kg: Annotated[int, Field(strict=True, gt=0, le=1_000_000)] = 1000
    tick_fen: Annotated[int, Field(strict=True, gt=0, le=100_000)] = 1
    band_pct: Annotated[int, Field(strict=True, ge=1, le=100)] = 10
    reference_price_fen: PricePerTonne | None = Field(
        None, description="The price the first day's band is drawn around, until the product has a close")
    sessions: str = Field("09:30-11:30,13:00-15:00", max_length=120, description="Local times, HH:MM-HH:MM, …")
    weekdays: str = Field("12345", max_length=7, description="ISO weekdays, Monday 1 … Sunday 7")
    timezone: str = Field("Asia/Shanghai", max_length=40)


class BandOut(BaseModel):
    reference_fen: int = Field(description="The previous close, or the reference price before the first close")
    low_fen: int
    high_fen: int


class ProductOut(BaseModel):
    code: str
    name: str
    methodology_ids: list[str] = Field(description="Admitted methodologies (after the credit kind)")
    regions: list[str]
    vintage_from: int | None
    vintage_to: int | None
    credit_kind: str
    lot_kg: int
    tick_fen: int
    band_pct: int
    sessions: str
    weekdays: str
    timezone: str
    state: Literal["open", "halted", "closed"]
    state_reason: str
    in_session: bool = Field(description="Whether a session is running now")
    next_open: datetime | None = Field(description="When the next session starts (local time)")
    band: BandOut | None = Field(description="Today's price limits; null before any reference price")
    last_price_fen: int | None = Field(description="The price of the last book trade")


class ProductStateIn(Strict):
    state: Literal["open", "halted", "closed"]
    reason: str = Field("", max_length=500)


class ScheduleIn(Strict):
    sessions: str = Field(max_length=120, description="HH:MM-HH:MM, … local times")
    weekdays: str = Field(max_length=7, description="ISO weekdays, e.g. 12345")


class OrderIn(Strict):
    side: Literal["buy", "sell"]
    account: str = Field(description="Sell: the holding account the credits come from; buy: the one they go to")
    quantity_kg: Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)]
    price_fen_per_t: PricePerTonne | None = Field(None, description="Omit for a market order (bounded by the band)")
    time_in_force: Literal["day", "gtc", "ioc", "fok"] = "day"
    serial_range: SerialRangeIn | None = Field(None, description="Sell only: exactly these units (each must qualify)")


class AmendIn(Strict):
    price_fen_per_t: PricePerTonne | None = None
    quantity_kg: Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)] | None = Field(
        None, description="The new total quantity, filled part included")


class OrderOut(BaseModel):
    id: str
    product: str
    side: str
    kind: Literal["limit", "market"]
    time_in_force: str
    price_fen_per_t: int = Field(description="A market order's is the band's edge it could reach")
    quantity_kg: int
    filled_kg: int
    remaining_kg: int
    status: Literal["open", "filled", "cancelled", "expired"]
    status_reason: str
    account: str
    trading_day: date
    created_at: datetime
    updated_at: datetime


class PlacedOut(BaseModel):
    order: OrderOut
    trades: list[TradeOut] = Field(description="The trades the order made at once, settled")


class LevelOut(BaseModel):
    price_fen_per_t: int
    quantity_kg: int
    orders: int


class BookOut(BaseModel):
    product: str
    state: str
    bids: list[LevelOut] = Field(description="Best five buy prices, highest first")
    asks: list[LevelOut] = Field(description="Best five sell prices, lowest first")
    last_price_fen: int | None


class CandleOut(BaseModel):
    day: date
    open_fen: int
    high_fen: int
    low_fen: int
    close_fen: int = Field(description="The day's volume-weighted average price (the close, as on Chinese exchanges)")
    volume_kg: int
    value_fen: int
    trades: int


class VwapOut(BaseModel):
    product: str
    first_day: date
    last_day: date
    vwap_fen: int | None


# --- auctions ---------------------------------------------------------------------------------------


class AuctionIn(Strict):
    title: Name
    quantity_kg: Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)]
    reserve_price_fen: PricePerTonne
    closes_at: datetime = Field(description="The end of the bid window, within 30 days")
    opens_at: datetime | None = Field(None, description="The start of the bid window; default now")
    rule: Literal["uniform", "pay_as_bid"] = Field(
        "uniform", description="uniform: every winner pays the lowest accepted price; pay_as_bid: its own")
    min_bid_kg: Annotated[int, Field(strict=True, gt=0)] | None = Field(
        None, description="Default: one lot of the product, or 1 t")
    product: str | None = Field(None, description="A product's code: the lot is its qualifying credits, "
                                                  "bids in its lot and tick")
    from_account: str | None = Field(None, description="Your holding account the lot comes from")
    serial_range: SerialRangeIn | None = Field(None, description="Exactly these units, instead of oldest first")
    pledge: str | None = Field(None, description="A pledgee: auction this matured pledge's credits")
    secured_amount_fen: Fen | None = Field(None, description="With pledge: paid to you first, the rest to the "
                                                             "holder")


class DemandPoint(BaseModel):
    price_fen_per_t: int
    cumulative_kg: int = Field(description="Kg bid at this price or higher")


class AuctionOut(BaseModel):
    id: str
    title: str
    seller: str
    announced_by: str
    product: str | None
    pledge: str | None
    quantity_kg: int
    lot_kg: int
    min_bid_kg: int
    reserve_price_fen: int
    tick_fen: int
    rule: Literal["uniform", "pay_as_bid"]
    opens_at: datetime
    closes_at: datetime
    status: Literal["open", "settled", "failed"]
    clearing_price_fen: int | None = Field(description="After the close: the lowest accepted price")
    sold_kg: int
    bidders: int = Field(description="After the close: how many parties bid")
    value_fen: int = Field(description="After the close: what the winners paid, before fees")
    demand_curve: list[DemandPoint] = Field(description="After the close, anonymous; empty while bids are sealed")
    settled_at: datetime | None


class BidIn(Strict):
    to_account: str = Field(description="Your holding account that receives the credits")
    quantity_kg: Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT_FEN)]
    price_fen_per_t: PricePerTonne


class BidOut(BaseModel):
    id: str
    auction: str
    quantity_kg: int
    price_fen_per_t: int
    allocated_kg: int
    status: Literal["sealed", "won", "partly_won", "lost"]
    created_at: datetime
