"""Pledges (质押): a holder pledges specific credits to a pledgee (a bank) for a loan. The units are
locked under the pledge's id (a ledger entry) and the pledge is public; the holder cannot move
them, and the pledgee can only release them or, after maturity, enforce: take them into its own
holding account (another entry), or sell them at auction (`trading.auctions`), paid first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from registry import credits
from registry.accounts import get_accounts, require_holder
from registry.errors import InvalidRequest, PermissionDenied
from registry.ids import new_public_id
from registry.models import Account, Party, Role, get_by_public_id, pk, rows_changed
from registry.parties import get_party, require_role
from trading.errors import PledgeNotActive, PledgeNotMatured, UnknownPledge
from trading.models import Auction, AuctionStatus, Pledge, PledgeStatus


@dataclass(frozen=True)
class PledgeTerms:
    pledgee: str  # the bank party's public id
    from_account: str
    quantity_kg: int | None
    selection: credits.Selection
    loan_reference: str
    maturity: date


def pledge_credits(session: Session, holder: Party, terms: PledgeTerms) -> Pledge:
    pledgee = get_party(session, terms.pledgee)
    require_role(pledgee, Role.BANK)
    if pledgee.id == holder.id:
        raise InvalidRequest("credits are pledged to another party")
    if not terms.loan_reference.strip():
        raise InvalidRequest("a pledge names the loan it secures (the bank's loan reference)")
    if terms.maturity <= datetime.now(UTC).date():
        raise InvalidRequest("the loan's maturity is in the future")
    public_id = new_public_id("pld")
    reason = f"pledged to {pledgee.public_id} for loan {terms.loan_reference.strip()}"
    movement = credits.lock_credits(session, holder, terms.from_account, terms.quantity_kg, terms.selection,
                                    public_id, reason)
    pledge = Pledge(public_id=public_id, holder_party_id=pk(holder), pledgee_party_id=pk(pledgee),
                    account_id=get_accounts(session, [terms.from_account])[terms.from_account].id,
                    quantity_kg=movement.quantity_kg, loan_reference=terms.loan_reference.strip(),
                    maturity=terms.maturity)
    session.add(pledge)
    session.flush()
    return pledge


def get_pledge(session: Session, public_id: str) -> Pledge:
    return get_by_public_id(session, Pledge, public_id, lambda: UnknownPledge(f"no pledge {public_id}"))


def pledges_query(party: str | None = None, account: str | None = None, status: PledgeStatus | None = None) -> Any:
    """Pledges are public facts on the credits: by holder or pledgee party, by account, by status."""
    query = select(Pledge)
    if party is not None:
        ids = select(col(Party.id)).where(col(Party.public_id) == party).scalar_subquery()
        query = query.where((col(Pledge.holder_party_id) == ids) | (col(Pledge.pledgee_party_id) == ids))
    if account is not None:
        query = query.where(col(Pledge.account_id) == select(col(Account.id)).where(
            col(Account.public_id) == account).scalar_subquery())
    if status is not None:
        query = query.where(col(Pledge.status) == status.value)
    return query.order_by(col(Pledge.id).desc())


def auction_of(session: Session, pledge: Pledge) -> Auction | None:
    """The open auction selling this pledge's credits, if any."""
    return session.execute(select(Auction).where(col(Auction.pledge_id) == pledge.id,
                                                 col(Auction.status) == AuctionStatus.OPEN.value)).scalar_one_or_none()


def _close(session: Session, pledge: Pledge, pledgee: Party, status: PledgeStatus) -> str:
    """The pledgee closes the pledge; of two racing decisions one wins. Returns the holder's account."""
    if pledge.pledgee_party_id != pledgee.id:
        raise PermissionDenied(f"pledge {pledge.public_id} is held by another pledgee")
    auction = auction_of(session, pledge)
    if auction is not None:
        raise PledgeNotActive(f"pledge {pledge.public_id} is being auctioned ({auction.public_id}) until "
                              f"{auction.closes_at:%Y-%m-%d %H:%M} UTC")
    result = session.execute(update(Pledge).where(col(Pledge.id) == pledge.id,
                                                  col(Pledge.status) == PledgeStatus.ACTIVE.value)
                             .values(status=status.value, closed_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        session.refresh(pledge)
        raise PledgeNotActive(f"pledge {pledge.public_id} is {pledge.status}")
    session.refresh(pledge)
    account = session.get(Account, pledge.account_id)
    assert account is not None
    return account.public_id


def release_pledge(session: Session, pledgee: Party, pledge: Pledge) -> Pledge:
    """The loan is repaid: the units are the holder's to move again."""
    account = _close(session, pledge, pledgee, PledgeStatus.RELEASED)
    credits.release_lock(session, account, pledge.public_id, f"pledge released by {pledgee.public_id}")
    return pledge


def enforce_pledge(session: Session, pledgee: Party, pledge: Pledge, to_account: str) -> Pledge:
    """After maturity, unpaid: the pledgee takes the units into one of its holding accounts."""
    if pledge.pledgee_party_id != pledgee.id:
        raise PermissionDenied(f"pledge {pledge.public_id} is held by another pledgee")
    if datetime.now(UTC).date() <= pledge.maturity:
        raise PledgeNotMatured(f"pledge {pledge.public_id} matures on {pledge.maturity}: it can be enforced after")
    receiving = get_accounts(session, [to_account])[to_account]
    require_holder(pledgee, receiving)
    account = _close(session, pledge, pledgee, PledgeStatus.ENFORCED)
    credits.deliver_locked(session, account, pledge.public_id, to_account, {"pledge": pledge.public_id})
    return pledge
