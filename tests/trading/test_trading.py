"""Trading I on both databases: cash as a double-entry journal, bilateral trades settled delivery
versus payment, pledges; every refusal changes nothing, and credits and cash are conserved."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from registry import credits
from registry import errors as registry_errors
from registry.accounts import open_account
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.ledger.audit import audit
from registry.ledger.log import sequence_all
from registry.ledger.signing import LogSigner
from registry.models import CreditBlock
from tests.trading.trading_world import BAND_PCT, FEES, Market, balance, make_market, offer
from trading import cash, errors, market, offers, pledges
from trading.models import CashEntry, Offer, OfferStatus, Pledge, Trade, Withdrawal

DETAILS = credits.RetirementDetails("Suzhou Precision Parts Factory", "organisation", "claim", date(2025, 1, 1),
                                    date(2025, 12, 31))


@pytest.fixture
def mkt(db: Database) -> Market:
    return make_market(db)


def snapshot(db: Database) -> tuple[object, ...]:
    """Everything a refused command must leave as it was: blocks, cash, offers, trades, pledges."""
    with db.read() as s:
        blocks = s.execute(select(CreditBlock.account_id, CreditBlock.status, CreditBlock.lock_ref,
                                  func.sum(CreditBlock.quantity_kg))
                           .group_by(CreditBlock.account_id, CreditBlock.status, CreditBlock.lock_ref)
                           .order_by(CreditBlock.account_id, CreditBlock.status)).all()
        counts = tuple(s.execute(select(func.count()).select_from(model)).scalar_one()
                       for model in (CashEntry, Offer, Trade, Pledge, Withdrawal))
        statuses = tuple(s.execute(select(Offer.status).order_by(Offer.id)).scalars())
        balances = tuple(s.execute(select(cash.CashAccount.available_fen, cash.CashAccount.held_fen)
                                   .order_by(cash.CashAccount.id)).all())
    return tuple(blocks), counts, statuses, balances


def audit_everything(db: Database, signer: LogSigner) -> list[str]:
    sequence_all(db, signer)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
        cash.audit_cash(s, report)
    return report.problems


def test_cash_is_a_balanced_journal_the_bank_confirms(db: Database, mkt: Market, signer: LogSigner) -> None:
    world = mkt.base
    with db.write() as s:
        cash.confirm_deposit(s, mkt.bank, mkt.owner_cash, 50_000, "BOS-2026-0001")
    before = snapshot(db)
    refusals: list[tuple[type[Exception], Callable[[Session], object]]] = [
        (errors.BankReferenceUsed, lambda s: cash.confirm_deposit(s, mkt.bank, mkt.owner_cash, 50_000,
                                                                  "BOS-2026-0001")),
        (registry_errors.RoleRequired, lambda s: cash.confirm_deposit(s, world.owner, mkt.owner_cash, 50_000, "X")),
        (errors.InvalidAmount, lambda s: cash.confirm_deposit(s, mkt.bank, mkt.owner_cash, 0, "BOS-2")),
        (errors.UnknownCashAccount, lambda s: cash.confirm_deposit(s, mkt.bank, "cash_nothing", 10, "BOS-3")),
        (errors.InsufficientCash, lambda s: cash.request_withdrawal(s, world.owner, 50_001)),
        (errors.CashAccountExists, lambda s: cash.open_cash_account(s, world.owner)),
    ]
    for error, attempt in refusals:
        with pytest.raises(error), db.write() as s:
            attempt(s)
    assert snapshot(db) == before

    with db.write() as s:
        withdrawal = cash.request_withdrawal(s, world.owner, 30_000)
        assert balance(s, mkt.owner_cash) == (20_000, 30_000)
        withdrawal_id = withdrawal.public_id
    with pytest.raises(errors.InsufficientCash), db.write() as s:  # held cash cannot be withdrawn again
        cash.request_withdrawal(s, world.owner, 20_001)
    with db.write() as s:
        paid = cash.pay_withdrawal(s, mkt.bank, cash.get_withdrawal(s, withdrawal_id), "BOS-OUT-0001")
        assert paid.status == "paid" and balance(s, mkt.owner_cash) == (20_000, 0)
    with pytest.raises(errors.WithdrawalNotRequested), db.write() as s:
        cash.pay_withdrawal(s, mkt.bank, cash.get_withdrawal(s, withdrawal_id), "BOS-OUT-0002")
    with db.write() as s:
        second = cash.request_withdrawal(s, world.owner, 5_000)
        cash.cancel_withdrawal(s, world.owner, second, "changed my mind")
        assert balance(s, mkt.owner_cash) == (20_000, 0)
    with pytest.raises(errors.InsufficientCash, match="withdraw it first"), db.write() as s:
        cash.close_cash_account(s, world.owner)
    with db.write() as s:
        last = cash.request_withdrawal(s, world.owner, 20_000)
        cash.pay_withdrawal(s, mkt.bank, last, "BOS-OUT-0003")
        assert cash.close_cash_account(s, world.owner).status == "closed"
    closed = snapshot(db)
    for attempt in (lambda s: cash.confirm_deposit(s, mkt.bank, mkt.owner_cash, 10, "BOS-2026-0009"),
                    lambda s: cash.close_cash_account(s, world.owner)):
        with pytest.raises(errors.CashAccountClosed), db.write() as s:
            attempt(s)
    assert snapshot(db) == closed
    assert audit_everything(db, signer) == []


def test_a_bilateral_trade_delivers_and_pays_at_once(db: Database, mkt: Market, signer: LogSigner) -> None:
    world = mkt.base
    made = offer(db, mkt, 10_000, 5_000)  # 10 t at 50 yuan a tonne = 50,000 fen
    with db.read() as s:
        locked = credits.account_balances(s, credits.get_accounts(s, [world.owner_account])[world.owner_account].id)
        assert locked[0]["locked_kg"] == 10_000 and locked[0]["active_kg"] == 90_000
    with db.write() as s:
        trade = offers.accept_offer(s, world.factory, offers.get_offer(s, made.public_id), world.factory_account,
                                    FEES)
        assert (trade.quantity_kg, trade.amount_fen, trade.buyer_fee_fen, trade.seller_fee_fen) == \
            (10_000, 50_000, 150, 100)
        assert balance(s, mkt.factory_cash) == (10_000_000 - 50_150, 0)
        assert balance(s, mkt.owner_cash) == (49_900, 0)
        assert balance(s, cash.FEES_ACCOUNT) == (250, 0)
        factory = credits.account_balances(s, credits.get_accounts(
            s, [world.factory_account])[world.factory_account].id)
        assert factory[0]["active_kg"] == 10_000
        tape = s.execute(market.tape_query(market.TapeFilter())).all()
        assert [(line.quantity_kg, line.methodology_id, t.mode) for line, t, _ in tape] == \
            [(10_000, "CIR-PV-DG", "bilateral")]
        assert market.reference_price(s, "CIR-PV-DG") == 5_000
    assert audit_everything(db, signer) == []


def test_offer_refusals_change_nothing(db: Database, mkt: Market) -> None:
    world = mkt.base
    first = offer(db, mkt, 10_000, 5_000)
    with db.write() as s:
        offers.accept_offer(s, world.factory, offers.get_offer(s, first.public_id), world.factory_account, FEES)
    standing = offer(db, mkt, 20_000, 5_500)
    before = snapshot(db)
    terms = offers.OfferTerms(world.factory.public_id, world.owner_account, 1_000, OldestFirstSelection(), 5_000,
                              datetime.now(UTC) + timedelta(days=1))
    refusals: list[tuple[type[Exception], Callable[[Session], object]]] = [
        (errors.PriceOutOfBand, lambda s: offers.make_offer(s, world.owner, terms.__class__(
            **{**terms.__dict__, "price_fen_per_t": 8_000}), BAND_PCT)),
        (registry_errors.InvalidRequest, lambda s: offers.make_offer(s, world.owner, terms.__class__(
            **{**terms.__dict__, "expires_at": datetime.now(UTC) - timedelta(minutes=1)}), BAND_PCT)),
        (registry_errors.InvalidQuantity, lambda s: offers.make_offer(s, world.owner, terms.__class__(
            **{**terms.__dict__, "quantity_kg": 0}), BAND_PCT)),
        (registry_errors.InsufficientCredits, lambda s: offers.make_offer(s, world.owner, terms.__class__(
            **{**terms.__dict__, "quantity_kg": 80_001}), BAND_PCT)),  # 70 t free: 10 t sold, 20 t offered
        (registry_errors.InsufficientCredits, lambda s: credits.transfer_credits(
            s, world.owner, world.owner_account, world.factory_account, 70_001, OldestFirstSelection())),
        (registry_errors.InsufficientCredits, lambda s: credits.retire_credits(
            s, world.owner, world.owner_account, 70_001, OldestFirstSelection(), DETAILS)),
        (registry_errors.PermissionDenied, lambda s: offers.accept_offer(
            s, world.owner, offers.get_offer(s, standing.public_id), world.owner_account, FEES)),
        (registry_errors.PermissionDenied, lambda s: offers.withdraw_offer(
            s, world.factory, offers.get_offer(s, standing.public_id))),
        (errors.OfferNotOpen, lambda s: offers.accept_offer(
            s, world.factory, offers.get_offer(s, first.public_id), world.factory_account, FEES)),
        (registry_errors.NotAccountHolder, lambda s: offers.accept_offer(
            s, world.factory, offers.get_offer(s, standing.public_id), world.owner_account, FEES)),
    ]
    for error, attempt in refusals:
        with pytest.raises(error), db.write() as s:
            attempt(s)
    assert snapshot(db) == before

    with db.write() as s:  # the buyer's cash is held for a withdrawal but 100 fen: accepting changes nothing
        free = cash.get_cash_account(s, mkt.factory_cash).available_fen
        cash.request_withdrawal(s, world.factory, free - 100)
    poor = snapshot(db)
    with pytest.raises(errors.InsufficientCash), db.write() as s:
        offers.accept_offer(s, world.factory, offers.get_offer(s, standing.public_id), world.factory_account, FEES)
    assert snapshot(db) == poor
    with db.write() as s:
        offers.reject_offer(s, world.factory, offers.get_offer(s, standing.public_id), "too dear")
        assert offers.get_offer(s, standing.public_id).status == OfferStatus.REJECTED
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(CreditBlock)
                         .where(CreditBlock.status == "locked")).scalar_one() == 0


def test_an_expired_offer_cannot_be_accepted_and_its_credits_come_back(db: Database, mkt: Market) -> None:
    world = mkt.base
    made = offer(db, mkt, 5_000, 5_000)
    with db.write() as s:
        s.execute(update(Offer).where(Offer.public_id == made.public_id)
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(errors.OfferNotOpen, match="expired"), db.write() as s:
        offers.accept_offer(s, world.factory, offers.get_offer(s, made.public_id), world.factory_account, FEES)
    with db.write() as s:
        assert offers.expire_due_offers(s) == 1
        assert offers.get_offer(s, made.public_id).status == OfferStatus.EXPIRED
        owner = credits.account_balances(s, credits.get_accounts(s, [world.owner_account])[world.owner_account].id)
        assert owner[0]["active_kg"] == 100_000 and owner[0]["locked_kg"] == 0


def test_a_failure_between_the_credit_and_cash_legs_leaves_neither(db: Database, mkt: Market,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    world = mkt.base
    made = offer(db, mkt, 10_000, 5_000)
    before = snapshot(db)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the cash leg failed")

    monkeypatch.setattr(cash, "post", broken)
    with pytest.raises(RuntimeError), db.write() as s:
        offers.accept_offer(s, world.factory, offers.get_offer(s, made.public_id), world.factory_account, FEES)
    assert snapshot(db) == before


def test_pledged_credits_are_released_or_enforced_by_the_pledgee_only(db: Database, mkt: Market,
                                                                      signer: LogSigner) -> None:
    world = mkt.base
    with db.write() as s:
        bank_account = open_account(s, mkt.bank, "Enforced collateral").public_id

    def pledge(quantity_kg: int) -> str:
        with db.write() as s:
            return pledges.pledge_credits(s, world.owner, pledges.PledgeTerms(
                mkt.bank.public_id, world.owner_account, quantity_kg, OldestFirstSelection(), "LOAN-2026-17",
                date.today() + timedelta(days=180))).public_id

    first = pledge(60_000)
    before = snapshot(db)
    refusals: list[tuple[type[Exception], Callable[[Session], object]]] = [
        (registry_errors.InsufficientCredits, lambda s: credits.transfer_credits(
            s, world.owner, world.owner_account, world.factory_account, 40_001, OldestFirstSelection())),
        (registry_errors.NotAccountHolder, lambda s: credits.transfer_credits(
            s, mkt.bank, world.owner_account, bank_account, 1, OldestFirstSelection())),
        (errors.PledgeNotMatured, lambda s: pledges.enforce_pledge(s, mkt.bank, pledges.get_pledge(s, first),
                                                                   bank_account)),
        (registry_errors.PermissionDenied, lambda s: pledges.release_pledge(s, world.factory,
                                                                            pledges.get_pledge(s, first))),
        (registry_errors.RoleRequired, lambda s: pledges.pledge_credits(s, world.owner, pledges.PledgeTerms(
            world.factory.public_id, world.owner_account, 1, OldestFirstSelection(), "L", date(2030, 1, 1)))),
    ]
    for error, attempt in refusals:
        with pytest.raises(error), db.write() as s:
            attempt(s)
    assert snapshot(db) == before
    with db.write() as s:
        pledges.release_pledge(s, mkt.bank, pledges.get_pledge(s, first))
    second = pledge(25_000)
    with db.write() as s:  # the loan's maturity passes unpaid
        s.execute(update(Pledge).where(Pledge.public_id == second).values(maturity=date.today() - timedelta(days=1)))
    with db.write() as s:
        enforced = pledges.enforce_pledge(s, mkt.bank, pledges.get_pledge(s, second), bank_account)
        assert enforced.status == "enforced"
        held = credits.account_balances(s, credits.get_accounts(s, [bank_account])[bank_account].id)
        assert held[0]["active_kg"] == 25_000
    with pytest.raises(errors.PledgeNotActive), db.write() as s:
        pledges.release_pledge(s, mkt.bank, pledges.get_pledge(s, second))
    assert audit_everything(db, signer) == []


def _race(db: Database, attempts: int, attempt: Callable[[Session], object]) -> Counter[str]:
    barrier = threading.Barrier(attempts)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                attempt(s)
            outcome = "won"
        except registry_errors.RegistryError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_accepts_of_one_offer_and_racing_spends_of_one_cash_each_have_one_winner(
        db: Database, mkt: Market, signer: LogSigner) -> None:
    world = mkt.base
    made = offer(db, mkt, 10_000, 5_000)
    accepts = _race(db, 20, lambda s: offers.accept_offer(s, world.factory, offers.get_offer(s, made.public_id),
                                                          world.factory_account, FEES))
    assert accepts == Counter({"won": 1, "OfferNotOpen": 19})
    with db.write() as s:
        cash.confirm_deposit(s, mkt.bank, mkt.owner_cash, 1_000, "BOS-RACE")
    spends = _race(db, 20, lambda s: cash.request_withdrawal(s, world.owner, 50_900))  # all it holds, each
    assert spends == Counter({"won": 1, "InsufficientCash": 19})
    assert audit_everything(db, signer) == []
