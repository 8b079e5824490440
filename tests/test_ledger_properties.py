"""Hypothesis drives random sequences of commands; after every step the registry's invariants hold:

- supply is conserved: the blocks cover exactly the units issued, no more, no less;
- no two blocks of an issuance overlap;
- retired units never move again;
- balances equal a replay of the log (`audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlmodel import Session

from registry import credits, errors
from registry.credits import OldestFirstSelection, RetirementDetails, SerialRangeSelection
from registry.db import Database
from registry.ledger import log
from registry.ledger.audit import audit
from registry.ledger.entries import _plain, canonical_json
from registry.ledger.signing import LogSigner
from registry.models import CreditBlock, Issuance
from tests.conftest import empty_database
from tests.world import World, make_world

DETAILS = RetirementDetails("A factory", "organisation", "Net-zero claim", date(2025, 1, 1), date(2025, 12, 31))
EXPECTED_REFUSALS = (errors.InsufficientCredits, errors.CreditsNotAvailable, errors.InvalidSerialRange)


def test_ledger_invariants_hold_under_random_commands(db: Database, signer: LogSigner) -> None:
    class LedgerMachine(RuleBasedStateMachine):
        world: World

        @initialize()
        def fresh_registry(self) -> None:
            empty_database(db.url)
            self.world = make_world(db)
            self.issued: dict[str, int] = {}
            self.retired: set[tuple[str, int, int]] = set()
            self.accounts = [self.world.owner_account, self.world.factory_account]
            self.holders = {self.world.owner_account: self.world.owner, self.world.factory_account: self.world.factory}

        def run(self, command: Callable[[Session], object]) -> None:
            try:
                with db.write() as s:
                    command(s)
            except EXPECTED_REFUSALS:
                pass

        @rule(quantity=st.integers(1, 5_000), vintage=st.sampled_from([2023, 2024, 2025]))
        def issue(self, quantity: int, vintage: int) -> None:
            with db.write() as s:
                issuance, _ = credits.issue_credits(s, self.world.registrar, self.world.project, vintage, quantity,
                                                    self.world.owner_account)
            self.issued[issuance.public_id] = quantity

        @rule(source=st.integers(0, 1), quantity=st.integers(1, 3_000))
        def transfer_oldest_first(self, source: int, quantity: int) -> None:
            src, dst = self.accounts[source], self.accounts[1 - source]
            self.run(lambda s: credits.transfer_credits(s, self.holders[src], src, dst, quantity,
                                                        OldestFirstSelection()))

        @rule(source=st.integers(0, 1), data=st.data())
        def transfer_serial_range(self, source: int, data: st.DataObject) -> None:
            if not self.issued:
                return
            # Issuance ids are random: draw by issue order so that replays draw the same values.
            issuance = data.draw(st.sampled_from(list(self.issued)))
            first = data.draw(st.integers(1, self.issued[issuance]))
            last = data.draw(st.integers(first, self.issued[issuance]))
            src, dst = self.accounts[source], self.accounts[1 - source]
            self.run(lambda s: credits.transfer_credits(s, self.holders[src], src, dst, None,
                                                        SerialRangeSelection(issuance, first, last)))

        @rule(source=st.integers(0, 1), quantity=st.integers(1, 2_000))
        def retire(self, source: int, quantity: int) -> None:
            src = self.accounts[source]

            def command(s: Session) -> object:
                _, movement = credits.retire_credits(s, self.holders[src], src, quantity, OldestFirstSelection(),
                                                     DETAILS)
                self.pending_retired = {(r.issuance_public_id, r.first_unit, r.last_unit) for r in movement.ranges}

            self.pending_retired: set[tuple[str, int, int]] = set()
            self.run(command)
            self.retired |= self.pending_retired

        @rule(quantity=st.integers(1, 2_000), frozen=st.booleans())
        def freeze_or_release(self, quantity: int, frozen: bool) -> None:
            self.run(lambda s: credits.set_frozen(s, self.world.registrar, self.world.owner_account, quantity,
                                                  OldestFirstSelection(), "review", frozen=frozen))

        @rule(quantity=st.integers(1, 1_000))
        def cancel(self, quantity: int) -> None:
            self.run(lambda s: credits.cancel_credits(s, self.world.registrar, self.world.factory_account, quantity,
                                                      OldestFirstSelection(), "correction"))

        @rule()
        def sequence(self) -> None:
            log.sequence_all(db, signer, batch_size=4)

        @invariant()
        def supply_is_conserved_and_ranges_are_disjoint(self) -> None:
            if not hasattr(self, "world"):
                return
            with db.read() as s:
                rows = s.execute(select(Issuance.public_id, CreditBlock.first_unit, CreditBlock.last_unit)
                                 .join(Issuance, Issuance.id == CreditBlock.issuance_id)
                                 .order_by(Issuance.public_id, CreditBlock.first_unit)).all()
            covered: dict[str, int] = {}
            for issuance, first, last in rows:
                assert first == covered.get(issuance, 0) + 1, f"gap or overlap in {issuance} at unit {first}"
                covered[issuance] = last
            assert covered == self.issued

        @invariant()
        def retired_units_stay_retired(self) -> None:
            if not getattr(self, "retired", None):
                return
            with db.read() as s:
                retired = {(iss, first, last) for iss, first, last in s.execute(
                    select(Issuance.public_id, CreditBlock.first_unit, CreditBlock.last_unit)
                    .join(Issuance, Issuance.id == CreditBlock.issuance_id)
                    .where(CreditBlock.status == "retired"))}
            assert self.retired <= retired

        @invariant()
        def balances_equal_a_replay_of_the_log(self) -> None:
            if not hasattr(self, "world"):
                return
            with db.snapshot() as s:
                report = audit(s, signer.verifier_key)
            assert report.ok, report.problems

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=20, stateful_step_count=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )


# Any JSON: strings of any characters (control characters, astral ones, lone surrogates), any keys,
# integers beyond JSON's exact range, floats.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**60, max_value=2**60) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@given(json_values)
@settings(max_examples=2_000, deadline=None)
def test_canonical_json_is_rfc8785_whichever_way_it_is_written(value: object) -> None:
    """The ledger's canonical bytes come from orjson for plain documents and from rfc8785 otherwise: the
    same bytes as rfc8785 for every value, or the same refusal."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeError, ValueError) as refused:
        with pytest.raises(type(refused)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_canonical_json_takes_the_fast_way_for_a_ledger_entry() -> None:
    entry = {"v": 1, "type": "retire", "quantity_kg": 2**53 - 1, "units": [{"first_unit": 1, "serial": "CN-JS:…"}],
             "beneficiary": {"name": "苏州 \u0001 \u2028 \"q\" \\ 𝄞", "type": "individual"}, "claim": None}
    assert _plain(entry) and canonical_json(entry) == rfc8785.dumps(entry)
    for other in ({"quantity_kg": 2**53}, {"x": 1.5}, {"é": 1}, [b"bytes"]):
        assert not _plain(other)
