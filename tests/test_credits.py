"""Credit movements through the service layer, on SQLite and PostgreSQL."""

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from registry import credits, errors
from registry.accounts import CANCELLATION_ACCOUNT, get_account
from registry.credits import OldestFirstSelection, RetirementDetails, SerialRangeSelection
from registry.db import Database
from registry.ledger.models import LedgerEntry
from registry.models import CreditBlock, ProjectStatus
from registry.projects import get_project
from tests.world import issue, make_world
from verification.projects import change_project_status

ANY = OldestFirstSelection()
DETAILS = RetirementDetails("Suzhou Precision Parts Factory", "organisation", "Zero-carbon factory claim 2025",
                            date(2025, 1, 1), date(2025, 12, 31), "Scope 1+2 residual emissions")


def balances(db: Database, account: str) -> dict[str, int]:
    with db.read() as s:
        rows = credits.account_balances(s, get_account(s, account).id)
    return rows[0] if rows else {}


def entry_count(db: Database) -> int:
    """Ledger entries that move credits (the world's accounts were opened in the log too)."""
    with db.read() as s:
        return s.execute(select(func.count()).select_from(LedgerEntry)
                         .where(LedgerEntry.kind != "open_account")).scalar_one()


def test_issue_creates_one_block_and_one_entry(db: Database) -> None:
    world = make_world(db)
    movement = issue(db, world, 462_000)
    assert movement.ranges[0].first_unit == 1 and movement.ranges[0].last_unit == 462_000
    assert movement.ranges[0].serial.startswith("CN-JS:CIR-PV-DG:1.0:P")
    assert balances(db, world.owner_account)["active_kg"] == 462_000
    assert entry_count(db) == 1


def test_partial_transfer_splits_the_block_and_keeps_serial_ranges(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 10_000)
    with db.write() as s:
        moved = credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 3_000, ANY)
    assert [(r.first_unit, r.last_unit) for r in moved.ranges] == [(1, 3_000)]
    assert balances(db, world.owner_account)["active_kg"] == 7_000
    assert balances(db, world.factory_account)["active_kg"] == 3_000
    with db.read() as s:
        ranges = sorted(s.execute(select(CreditBlock.first_unit, CreditBlock.last_unit)).all())
    assert ranges == [(1, 3_000), (3_001, 10_000)]


def test_oldest_vintage_goes_first_across_blocks(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000, vintage=2025)
    issue(db, world, 1_000, vintage=2024)
    with db.write() as s:
        moved = credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1_500, ANY)
    assert [r.quantity_kg for r in moved.ranges] == [1_000, 500]
    assert moved.ranges[0].serial.split(":")[4] == "2024"


def test_transfer_by_serial_range_from_the_middle_of_a_block(db: Database) -> None:
    world = make_world(db)
    iss = issue(db, world, 1_000).ranges[0].issuance_public_id
    with db.write() as s:
        moved = credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, None,
                                         SerialRangeSelection(iss, 401, 600))
    assert moved.quantity_kg == 200
    with db.read() as s:
        ranges = sorted(s.execute(select(CreditBlock.first_unit, CreditBlock.last_unit, CreditBlock.account_id)).all())
    assert [(a, b) for a, b, _ in ranges] == [(1, 400), (401, 600), (601, 1_000)]
    assert ranges[0][2] == ranges[2][2] != ranges[1][2]


def test_retired_units_never_move_again(db: Database) -> None:
    world = make_world(db)
    iss = issue(db, world, 1_000).ranges[0].issuance_public_id
    with db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1_000, ANY)
    with db.write() as s:
        retirement, _ = credits.retire_credits(s, world.factory, world.factory_account, 600, ANY, DETAILS)
    assert retirement.quantity_kg == 600
    assert balances(db, world.factory_account)["active_kg"] == 400
    with pytest.raises(errors.CreditsNotAvailable), db.write() as s:
        credits.transfer_credits(s, world.factory, world.factory_account, world.owner_account, None,
                                 SerialRangeSelection(iss, 1, 10))
    with pytest.raises(errors.InsufficientCredits), db.write() as s:
        credits.retire_credits(s, world.factory, world.factory_account, 401, ANY, DETAILS)
    assert balances(db, world.factory_account)["active_kg"] == 400


@pytest.mark.parametrize("quantity", [0, -5, 2.5, True, "10"])
def test_bad_quantities_are_refused_and_change_nothing(db: Database, quantity: object) -> None:
    world = make_world(db)
    issue(db, world, 1_000)
    before = entry_count(db)
    with pytest.raises(errors.InvalidQuantity), db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, quantity, ANY)  # type: ignore[arg-type]
    assert entry_count(db) == before
    assert balances(db, world.owner_account)["active_kg"] == 1_000


def test_more_than_the_balance_is_refused(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000)
    with pytest.raises(errors.InsufficientCredits, match="holds 1000 kg"), db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1_001, ANY)
    assert balances(db, world.owner_account)["active_kg"] == 1_000
    assert entry_count(db) == 1


def test_a_strangers_credits_cannot_be_moved(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000)
    with pytest.raises(errors.NotAccountHolder), db.write() as s:
        credits.transfer_credits(s, world.factory, world.owner_account, world.factory_account, 10, ANY)
    assert balances(db, world.owner_account)["active_kg"] == 1_000


def test_unknown_account_is_refused(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000)
    with pytest.raises(errors.UnknownAccount), db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, "acct_nope", 10, ANY)


def test_frozen_credits_cannot_move_until_unfrozen(db: Database) -> None:
    world = make_world(db)
    iss = issue(db, world, 1_000).ranges[0].issuance_public_id
    with db.write() as s:
        credits.set_frozen(s, world.registrar, world.owner_account, None, SerialRangeSelection(iss, 1, 1_000),
                           "dispute over meter ownership", frozen=True)
    assert balances(db, world.owner_account)["frozen_kg"] == 1_000
    with pytest.raises(errors.InsufficientCredits), db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1, ANY)
    with pytest.raises(errors.RoleRequired), db.write() as s:
        credits.set_frozen(s, world.owner, world.owner_account, 1_000, ANY, "self-release", frozen=False)
    with db.write() as s:
        credits.set_frozen(s, world.registrar, world.owner_account, 1_000, ANY, "dispute settled", frozen=False)
    with db.write() as s:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 1, ANY)
    assert balances(db, world.factory_account)["active_kg"] == 1


def test_cancel_takes_credits_out_of_circulation(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000)
    with db.write() as s:
        moved = credits.cancel_credits(s, world.registrar, world.owner_account, 250, ANY, "meter double-registered")
    assert moved.to_account == CANCELLATION_ACCOUNT
    assert balances(db, world.owner_account)["active_kg"] == 750
    assert balances(db, CANCELLATION_ACCOUNT)["cancelled_kg"] == 250


def test_issuance_needs_a_registered_project_and_the_registrar(db: Database) -> None:
    world = make_world(db)
    with pytest.raises(errors.RoleRequired), db.write() as s:
        credits.issue_credits(s, world.owner, world.project, 2025, 100, world.owner_account)
    with pytest.raises(errors.InvalidRequest, match="owner"), db.write() as s:
        credits.issue_credits(s, world.registrar, world.project, 2025, 100, world.factory_account)
    with db.write() as s:
        project = get_project(s, world.project)
        change_project_status(s, world.registrar, project, ProjectStatus.SUSPENDED)
    with pytest.raises(errors.ProjectNotRegistered), db.write() as s:
        credits.issue_credits(s, world.registrar, world.project, 2025, 100, world.owner_account)
    assert entry_count(db) == 0


def test_the_database_refuses_overlapping_blocks(db: Database) -> None:
    """Even code that bypasses the service cannot create two blocks over the same units."""
    world = make_world(db)
    issue(db, world, 1_000)
    with pytest.raises(IntegrityError, match="credit_block_no_overlap"), db.write() as s:
        block = s.execute(select(CreditBlock)).scalar_one()
        s.add(CreditBlock(public_id="blk_forged", issuance_id=block.issuance_id, first_unit=500, last_unit=1_500,
                          quantity_kg=1_001, account_id=block.account_id, status="active",
                          project_id=block.project_id, vintage=block.vintage))
        s.flush()


def test_balances_group_by_vintage(db: Database) -> None:
    world = make_world(db)
    issue(db, world, 1_000, vintage=2024)
    issue(db, world, 2_000, vintage=2025)
    with db.read() as s:
        rows = credits.account_balances(s, get_account(s, world.owner_account).id, "vintage")
    assert [(r["group"], r["active_kg"]) for r in rows] == [(2024, 1_000), (2025, 2_000)]


class Undo(Exception):
    """Raised to roll a test's transaction back."""


def test_postgresql_splits_off_the_oldest_units_in_one_statement_or_leaves_the_rest_to_the_portable_path(
        db: Database) -> None:
    """PostgreSQL's hot path takes the common case (part of the oldest block) and leaves every other case
    unchanged for the portable path, which SQLite always takes; the movements come out the same."""
    world = make_world(db)
    issue(db, world, 1_000, vintage=2024)
    issue(db, world, 5_000, vintage=2025)
    on_postgresql = db.url.startswith("postgresql")
    with db.write() as s:
        accounts = credits.get_accounts(s, [world.owner_account, world.factory_account])
        source, target = accounts[world.owner_account], accounts[world.factory_account]
        assert credits._splits_in_one_statement(s, 300, ANY) is on_postgresql
        assert not credits._splits_in_one_statement(s, None, SerialRangeSelection("iss_x", 1, 5))
        assert not credits._splits_in_one_statement(s, 300, OldestFirstSelection(vintage=2025))
    if on_postgresql:
        with pytest.raises(Undo), db.write() as s:
            def split(quantity_kg: int, latest_vintage: int = 9999) -> list[tuple[int, int]] | None:
                ranges = credits._split_off_oldest(s, credits.EntryType.TRANSFER, source, target, quantity_kg,
                                                   latest_vintage=latest_vintage)
                return None if ranges is None else [(r.first_unit, r.last_unit) for r in ranges]

            def blocks() -> list[tuple[int, int, int]]:
                return sorted((row.account_id, row.first_unit, row.last_unit) for row in s.execute(
                    select(CreditBlock.account_id, CreditBlock.first_unit, CreditBlock.last_unit)))

            before = blocks()
            assert split(1_000) is None  # it would empty the oldest block: the portable path moves the block itself
            assert split(5_000) is None  # more than the oldest block: the portable path spans blocks
            assert split(10, latest_vintage=2023) is None  # a vintage a retirement's claim period refuses
            assert blocks() == before  # each left everything as it was
            assert split(1) == [(1, 1)]
            assert blocks() == sorted([(source.id, 2, 1_000), (source.id, 1, 5_000), (target.id, 1, 1)])
            raise Undo  # that unit moved without its ledger entry
    with db.write() as s:
        moved = [credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, kg, ANY)
                 for kg in (300, 900)]
    assert [[(r.first_unit, r.last_unit) for r in m.ranges] for m in moved] == [[(1, 300)], [(301, 1_000), (1, 200)]]
