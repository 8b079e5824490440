"""Bilateral trades (协议转让): a seller offers credits to a named buyer at a price until an expiry;
the buyer accepts (settled at once, delivery versus payment) or rejects; the seller may withdraw
before acceptance. The offered units are locked under the offer's id from the offer on, so they
cannot be sold twice; rejection, withdrawal and expiry release them.

Each decision is a conditional update on `status = 'open'`: of two racing requests one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session, col

from registry import credits
from registry.accounts import get_accounts, require_holder
from registry.errors import InvalidRequest, PermissionDenied
from registry.ids import new_public_id
from registry.models import Account, AccountKind, Party, PartyStatus, get_by_public_id, pk, rows_changed
from registry.parties import get_party
from trading import market, settlement
from trading.errors import OfferNotOpen, UnknownOffer
from trading.models import Offer, OfferStatus, Trade

# An offer stands for at most this long: a bilateral agreement is concluded within weeks.
MAX_OFFER_DAYS = 90


@dataclass(frozen=True)
class OfferTerms:
    buyer: str  # the buyer party's public id
    from_account: str
    quantity_kg: int | None
    selection: credits.Selection
    price_fen_per_t: int
    expires_at: datetime
    note: str = ""


def make_offer(session: Session, seller: Party, terms: OfferTerms, band_pct: int) -> Offer:
    """Lock the offered units under a new offer to the named buyer, at a price within the band."""
    now = datetime.now(UTC)
    expires_at = terms.expires_at if terms.expires_at.tzinfo else terms.expires_at.replace(tzinfo=UTC)
    if not now < expires_at <= now + timedelta(days=MAX_OFFER_DAYS):
        raise InvalidRequest(f"an offer expires in the future, within {MAX_OFFER_DAYS} days")
    buyer = get_party(session, terms.buyer)
    if buyer.id == seller.id:
        raise InvalidRequest("an offer is made to another party")
    if buyer.status != PartyStatus.ACTIVE:
        raise InvalidRequest(f"{buyer.name} is suspended and cannot trade")
    public_id = new_public_id("ofr")
    movement = credits.lock_credits(session, seller, terms.from_account, terms.quantity_kg, terms.selection,
                                    public_id, f"offered to {buyer.public_id}")
    market.check_band(session, settlement.methodologies_of(session, movement), terms.price_fen_per_t, band_pct)
    offer = Offer(public_id=public_id, seller_party_id=pk(seller), buyer_party_id=pk(buyer),
                  seller_account_id=get_accounts(session, [terms.from_account])[terms.from_account].id,
                  quantity_kg=movement.quantity_kg, price_fen_per_t=terms.price_fen_per_t, expires_at=expires_at,
                  note=terms.note.strip())
    session.add(offer)
    session.flush()
    return offer


def get_offer(session: Session, public_id: str) -> Offer:
    return get_by_public_id(session, Offer, public_id, lambda: UnknownOffer(f"no offer {public_id}"))


def get_readable_offer(session: Session, reader: Party, public_id: str) -> Offer:
    """Its seller and its buyer see an offer; to anyone else it does not exist."""
    offer = get_offer(session, public_id)
    if reader.id not in (offer.seller_party_id, offer.buyer_party_id):
        raise UnknownOffer(f"no offer {public_id}")
    return offer


def offers_of(party: Party, role: str | None = None, status: OfferStatus | None = None) -> Any:
    """The party's offers as seller (`role="seller"`), as buyer (its inbox), or both."""
    mine = {"seller": col(Offer.seller_party_id) == party.id, "buyer": col(Offer.buyer_party_id) == party.id}
    query = select(Offer).where(mine[role] if role else or_(*mine.values()))
    if status is not None:
        query = query.where(col(Offer.status) == status.value)
    return query.order_by(col(Offer.id).desc())


def _close(session: Session, offer: Offer, status: OfferStatus) -> None:
    result = session.execute(update(Offer).where(col(Offer.id) == offer.id, col(Offer.status) == OfferStatus.OPEN.value)
                             .values(status=status.value, decided_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        session.refresh(offer)
        raise OfferNotOpen(f"offer {offer.public_id} is {offer.status}")
    session.refresh(offer)


def _seller_account(session: Session, offer: Offer) -> str:
    account = session.get(Account, offer.seller_account_id)
    assert account is not None
    return account.public_id


def accept_offer(session: Session, buyer: Party, offer: Offer, to_account: str, fees: settlement.Fees) -> Trade:
    """The named buyer accepts: the credits and the cash move at once, or nothing does."""
    if offer.buyer_party_id != buyer.id:
        raise PermissionDenied(f"offer {offer.public_id} is made to another party")
    if offer.status == OfferStatus.OPEN and offer.expires_at.replace(tzinfo=offer.expires_at.tzinfo or UTC) <= \
            datetime.now(UTC):
        raise OfferNotOpen(f"offer {offer.public_id} expired at {offer.expires_at:%Y-%m-%d %H:%M} UTC")
    receiving = get_accounts(session, [to_account])[to_account]
    if receiving.kind != AccountKind.HOLDING:
        raise InvalidRequest("credits are delivered to one of your holding accounts")
    require_holder(buyer, receiving)
    _close(session, offer, OfferStatus.ACCEPTED)
    seller = session.get(Party, offer.seller_party_id)
    assert seller is not None
    return settlement.settle(session, mode="bilateral", seller=seller, seller_account=_seller_account(session, offer),
                             buyer=buyer, buyer_account=to_account, lock_ref=offer.public_id,
                             price_fen_per_t=offer.price_fen_per_t, fees=fees, offer_id=pk(offer))


def reject_offer(session: Session, buyer: Party, offer: Offer, reason: str = "") -> Offer:
    if offer.buyer_party_id != buyer.id:
        raise PermissionDenied(f"offer {offer.public_id} is made to another party")
    _close(session, offer, OfferStatus.REJECTED)
    credits.release_lock(session, _seller_account(session, offer), offer.public_id,
                         f"offer rejected{': ' + reason.strip() if reason.strip() else ''}")
    return offer


def withdraw_offer(session: Session, seller: Party, offer: Offer) -> Offer:
    if offer.seller_party_id != seller.id:
        raise PermissionDenied(f"offer {offer.public_id} is another party's")
    _close(session, offer, OfferStatus.WITHDRAWN)
    credits.release_lock(session, _seller_account(session, offer), offer.public_id, "offer withdrawn")
    return offer


def expire_due_offers(session: Session) -> int:
    """Release the units of every open offer past its expiry; returns how many expired."""
    due = session.execute(select(Offer).where(col(Offer.status) == OfferStatus.OPEN.value,
                                              col(Offer.expires_at) <= datetime.now(UTC))).scalars().all()
    for offer in due:
        _close(session, offer, OfferStatus.EXPIRED)
        credits.release_lock(session, _seller_account(session, offer), offer.public_id, "offer expired")
    return len(due)
