"""Request and response shapes of the trading API. Money is integer fen; prices fen per tonne."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from registry.schemas import CreditSelection, Name, Strict
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


class TradeOut(BaseModel):
    id: str
    mode: str
    quantity_kg: int
    price_fen_per_t: int
    amount_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    cross_regional: bool
    seller: str
    buyer: str
    ledger_entry: int
    executed_at: datetime


class TapeRow(BaseModel):
    id: str = Field(description="The trade")
    mode: str
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
