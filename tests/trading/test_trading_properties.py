"""A hypothesis state machine over the market on both databases: offers, accepts, rejections,
withdrawals of offers, deposits, cash withdrawals (paid or cancelled) and pledges (released or
enforced), in any order. After every step credits and cash are conserved, nothing is sold twice,
no balance is negative, every lock belongs to an open offer or an active pledge, and the audit of
the journal passes."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select, update

from registry.accounts import open_account
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.errors import RegistryError
from registry.ledger.audit import AuditReport
from registry.models import Account, CreditBlock, Issuance, Project
from tests.trading.trading_world import BAND_PCT, FEES, make_market
from trading import cash, offers, pledges
from trading.models import CashAccount, Offer, OfferStatus, Pledge, PledgeStatus, Trade

ISSUED_KG = 50_000
counter = itertools.count()


def test_the_market_conserves_credits_and_cash(db: Database) -> None:
    class Market(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.mkt = make_market(db, owner_kg=ISSUED_KG, factory_fen=0)
            world = self.mkt.base
            with db.write() as s:
                self.bank_account = open_account(s, self.mkt.bank, "Collateral taken").public_id
                self.issuance = s.execute(select(Issuance.id).join(Project, Project.id == Issuance.project_id)
                                          .where(Project.public_id == world.project)).scalar_one()
            self.offers: list[str] = []
            self.pledges: list[str] = []
            self.withdrawals: list[str] = []
            self.sold_kg = 0

        def attempt(self, command: object) -> bool:
            try:
                with db.write() as s:
                    command(s)  # type: ignore[operator]
                return True
            except RegistryError:
                return False

        @rule(amount=st.integers(1, 3_000_000))
        def deposit(self, amount: int) -> None:
            self.attempt(lambda s: cash.confirm_deposit(s, self.mkt.bank, self.mkt.factory_cash, amount,
                                                        f"DEP-{next(counter)}"))

        @rule(kg=st.integers(1, 20_000), price=st.integers(1_000, 9_000))
        def offer(self, kg: int, price: int) -> None:
            world = self.mkt.base
            name: list[str] = []

            def make(s: object) -> None:
                made = offers.make_offer(s, world.owner, offers.OfferTerms(  # type: ignore[arg-type]
                    world.factory.public_id, world.owner_account, kg, OldestFirstSelection(), price,
                    datetime.now(UTC) + timedelta(days=1)), BAND_PCT)
                name.append(made.public_id)

            if self.attempt(make):
                self.offers.extend(name)

        @rule(index=st.integers(0, 30), decision=st.sampled_from(["accept", "reject", "withdraw"]))
        def decide(self, index: int, decision: str) -> None:
            if not self.offers:
                return
            offer_id = self.offers[index % len(self.offers)]
            world = self.mkt.base

            def act(s: object) -> None:
                offer = offers.get_offer(s, offer_id)  # type: ignore[arg-type]
                if decision == "accept":
                    offers.accept_offer(s, world.factory, offer, world.factory_account, FEES)  # type: ignore[arg-type]
                elif decision == "reject":
                    offers.reject_offer(s, world.factory, offer)  # type: ignore[arg-type]
                else:
                    offers.withdraw_offer(s, world.owner, offer)  # type: ignore[arg-type]

            self.attempt(act)

        @rule(amount=st.integers(1, 2_000_000), pay=st.booleans())
        def withdraw_cash(self, amount: int, pay: bool) -> None:
            world = self.mkt.base
            name: list[str] = []

            def request(s: object) -> None:
                name.append(cash.request_withdrawal(s, world.factory, amount).public_id)  # type: ignore[arg-type]

            if not self.attempt(request):
                return
            if pay:
                self.attempt(lambda s: cash.pay_withdrawal(s, self.mkt.bank, cash.get_withdrawal(s, name[0]),
                                                           f"OUT-{next(counter)}"))
            else:
                self.attempt(lambda s: cash.cancel_withdrawal(s, world.factory, cash.get_withdrawal(s, name[0]),
                                                              "no"))

        @rule(kg=st.integers(1, 20_000), outcome=st.sampled_from(["release", "enforce", "keep"]))
        def pledge(self, kg: int, outcome: str) -> None:
            world = self.mkt.base
            name: list[str] = []

            def make(s: object) -> None:
                name.append(pledges.pledge_credits(s, world.owner, pledges.PledgeTerms(  # type: ignore[arg-type]
                    self.mkt.bank.public_id, world.owner_account, kg, OldestFirstSelection(), "LOAN",
                    date.today() + timedelta(days=30))).public_id)

            if not self.attempt(make) or outcome == "keep":
                return
            if outcome == "release":
                self.attempt(lambda s: pledges.release_pledge(s, self.mkt.bank, pledges.get_pledge(s, name[0])))
            else:
                with db.write() as s:
                    s.execute(update(Pledge).where(Pledge.public_id == name[0])
                              .values(maturity=date.today() - timedelta(days=1)))
                self.attempt(lambda s: pledges.enforce_pledge(s, self.mkt.bank, pledges.get_pledge(s, name[0]),
                                                              self.bank_account))

        @invariant()
        def conserved(self) -> None:
            world = self.mkt.base
            with db.read() as s:
                total = s.execute(select(func.sum(CreditBlock.quantity_kg))
                                  .where(CreditBlock.issuance_id == self.issuance)).scalar_one()
                assert total == ISSUED_KG
                locks = set(s.execute(select(CreditBlock.lock_ref).where(CreditBlock.status == "locked")).scalars())
                open_offers = set(s.execute(select(Offer.public_id).where(
                    Offer.status == OfferStatus.OPEN.value)).scalars())
                active_pledges = set(s.execute(select(Pledge.public_id).where(
                    Pledge.status == PledgeStatus.ACTIVE.value)).scalars())
                assert locks <= open_offers | active_pledges
                sold = s.execute(select(func.coalesce(func.sum(Trade.quantity_kg), 0))
                                 .where(Trade.buyer_party_id == world.factory.id)).scalar_one()
                factory_kg = s.execute(select(func.coalesce(func.sum(CreditBlock.quantity_kg), 0))
                                       .join(Account, Account.id == CreditBlock.account_id)
                                       .where(Account.public_id == world.factory_account)).scalar_one()
                assert sold == factory_kg  # delivered exactly what was sold, once
                assert s.execute(select(func.count()).select_from(CashAccount).where(
                    CashAccount.kind != "clearing", CashAccount.available_fen < 0)).scalar_one() == 0
                report = AuditReport()
                cash.audit_cash(s, report)
                assert report.problems == []

    run_state_machine_as_test(Market, settings=settings(max_examples=12, stateful_step_count=12, deadline=None,
                                                        suppress_health_check=list(HealthCheck)))
