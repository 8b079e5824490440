"""Read models of trading: what the API and the pages show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from registry.models import Account, Party
from trading import schemas
from trading.models import CashAccount, CashEntry, CashLine, Offer, Pledge, Trade, Withdrawal
from trading.settlement import amount_of


def _public_id(session: Session, model: Any, row_id: int | None) -> str:
    found = session.get(model, row_id) if row_id is not None else None
    return str(found.public_id) if found is not None else ""


def cash_account_out(session: Session, account: CashAccount) -> schemas.CashAccountOut:
    return schemas.CashAccountOut(id=account.public_id, party=_public_id(session, Party, account.party_id) or None,
                                  kind=account.kind, available_fen=account.available_fen, held_fen=account.held_fen,
                                  status=account.status)


def statement(session: Session, account: CashAccount, limit: int = 500) -> list[schemas.CashLineOut]:
    rows = session.execute(select(CashLine, CashEntry).join(CashEntry, col(CashEntry.id) == col(CashLine.entry_id))
                           .where(col(CashLine.account_id) == account.id).order_by(col(CashLine.id).desc())
                           .limit(limit)).all()
    return [schemas.CashLineOut(entry=entry.public_id, kind=entry.kind, reference=entry.reference,
                                bank_reference=entry.bank_reference, bucket=line.bucket, amount_fen=line.amount_fen,
                                at=entry.created_at) for line, entry in rows]


def cash_entry_out(entry: CashEntry) -> schemas.CashEntryOut:
    return schemas.CashEntryOut(id=entry.public_id, kind=entry.kind, reference=entry.reference,
                                bank_reference=entry.bank_reference, created_at=entry.created_at)


def withdrawal_out(session: Session, withdrawal: Withdrawal) -> schemas.WithdrawalOut:
    return schemas.WithdrawalOut(id=withdrawal.public_id, account=_public_id(session, CashAccount,
                                                                               withdrawal.account_id),
                                 amount_fen=withdrawal.amount_fen, status=withdrawal.status,
                                 bank_reference=withdrawal.bank_reference, reason=withdrawal.reason,
                                 requested_at=withdrawal.requested_at, decided_at=withdrawal.decided_at)


def offer_out(session: Session, offer: Offer) -> schemas.OfferOut:
    seller, buyer = session.get(Party, offer.seller_party_id), session.get(Party, offer.buyer_party_id)
    assert seller is not None and buyer is not None
    trade = session.execute(select(col(Trade.public_id)).where(col(Trade.offer_id) == offer.id)).scalar_one_or_none()
    return schemas.OfferOut(id=offer.public_id, seller=seller.public_id, seller_name=seller.name,
                            buyer=buyer.public_id, buyer_name=buyer.name, quantity_kg=offer.quantity_kg,
                            price_fen_per_t=offer.price_fen_per_t,
                            amount_fen=amount_of(offer.quantity_kg, offer.price_fen_per_t),
                            expires_at=offer.expires_at, status=offer.status, note=offer.note,
                            created_at=offer.created_at, trade=trade)


def trade_out(session: Session, trade: Trade) -> schemas.TradeOut:
    return schemas.TradeOut(id=trade.public_id, mode=trade.mode, quantity_kg=trade.quantity_kg,
                            price_fen_per_t=trade.price_fen_per_t, amount_fen=trade.amount_fen,
                            buyer_fee_fen=trade.buyer_fee_fen, seller_fee_fen=trade.seller_fee_fen,
                            cross_regional=trade.cross_regional,
                            seller=_public_id(session, Party, trade.seller_party_id),
                            buyer=_public_id(session, Party, trade.buyer_party_id),
                            ledger_entry=trade.ledger_entry_id, executed_at=trade.executed_at)


def tape_row_out(row: Any) -> schemas.TapeRow:
    line, trade = row[0], row[1]
    return schemas.TapeRow(id=trade.public_id, mode=trade.mode, quantity_kg=line.quantity_kg,
                           price_fen_per_t=trade.price_fen_per_t, methodology=line.methodology_id,
                           vintage=line.vintage, region=line.region, cross_regional=trade.cross_regional,
                           executed_at=trade.executed_at)


def pledge_out(session: Session, pledge: Pledge) -> schemas.PledgeOut:
    return schemas.PledgeOut(id=pledge.public_id, holder=_public_id(session, Party, pledge.holder_party_id),
                             account=_public_id(session, Account, pledge.account_id),
                             pledgee=_public_id(session, Party, pledge.pledgee_party_id),
                             quantity_kg=pledge.quantity_kg, loan_reference=pledge.loan_reference,
                             maturity=pledge.maturity, status=pledge.status, created_at=pledge.created_at,
                             closed_at=pledge.closed_at)
