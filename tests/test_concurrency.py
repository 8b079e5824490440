"""Racing commands: real threads and processes; row locks on PostgreSQL, BEGIN IMMEDIATE on SQLite.

Of commands racing for the same units exactly one wins, and nothing is lost or made."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from registry import credits, errors
from registry.accounts import get_account
from registry.credits import OldestFirstSelection, RetirementDetails, SerialRangeSelection
from registry.db import Database
from registry.ledger import log
from registry.ledger.audit import audit
from registry.ledger.signing import LogSigner
from registry.models import CreditBlock
from registry.parties import get_party
from tests.world import World, issue, make_world

THREADS = 20
DETAILS = RetirementDetails("Suzhou Precision Parts Factory", "organisation", "Net-zero claim",
                            date(2025, 1, 1), date(2025, 12, 31))


def race(db: Database, world: World, attempt: Callable[[Session, int], None]) -> Counter[str]:
    """Run `attempt(session, i)` in THREADS threads released at once; count outcomes by name."""
    barrier = threading.Barrier(THREADS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            with db.write() as s:
                attempt(s, i)
            outcome = "won"
        except (errors.CreditsNotAvailable, errors.InsufficientCredits) as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def supply(db: Database) -> dict[str, int]:
    with db.read() as s:
        totals = select(CreditBlock.status, func.sum(CreditBlock.quantity_kg)).group_by(CreditBlock.status)
        return dict(s.execute(totals).all())


def assert_consistent(db: Database, signer: LogSigner) -> None:
    log.sequence_all(db, signer)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
    assert report.ok, report.problems


def test_twenty_threads_transfer_and_retire_the_same_serial_range(db: Database, signer: LogSigner) -> None:
    world = make_world(db)
    iss = issue(db, world, 1_000).ranges[0].issuance_public_id
    whole = SerialRangeSelection(iss, 1, 1_000)

    def attempt(s: Session, i: int) -> None:
        if i % 2:
            credits.retire_credits(s, world.owner, world.owner_account, None, whole, DETAILS)
        else:
            credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, None, whole)

    outcomes = race(db, world, attempt)
    assert outcomes["won"] == 1, outcomes
    assert outcomes["CreditsNotAvailable"] == THREADS - 1
    assert sum(supply(db).values()) == 1_000
    assert_consistent(db, signer)


def test_twenty_threads_draw_oldest_first_from_one_balance(db: Database, signer: LogSigner) -> None:
    world = make_world(db)
    issue(db, world, 700, vintage=2024)
    issue(db, world, 300, vintage=2025)

    def attempt(s: Session, i: int) -> None:
        credits.transfer_credits(s, world.owner, world.owner_account, world.factory_account, 100,
                                 OldestFirstSelection())

    outcomes = race(db, world, attempt)
    assert outcomes == Counter({"won": 10, "InsufficientCredits": 10}), outcomes
    with db.read() as s:
        factory = credits.account_balances(s, get_account(s, world.factory_account).id)
        owner = credits.account_balances(s, get_account(s, world.owner_account).id)
    assert factory[0]["active_kg"] == 1_000 and owner == []
    assert_consistent(db, signer)


def _process_attempt(args: tuple[str, str, str, str, str]) -> str:
    """In a separate process: its own engine and connections, racing the others."""
    url, owner_public_id, source, target, issuance = args
    db = Database(url, pool_size=1)
    try:
        with db.write() as s:
            owner = get_party(s, owner_public_id)
            credits.transfer_credits(s, owner, source, target, None, SerialRangeSelection(issuance, 1, 500))
        return "won"
    except errors.CreditsNotAvailable:
        return "lost"
    finally:
        db.dispose()


def test_processes_race_for_the_same_units(db: Database, signer: LogSigner) -> None:
    world = make_world(db)
    iss = issue(db, world, 500).ranges[0].issuance_public_id
    jobs = [(db.url, world.owner.public_id, world.owner_account, world.factory_account, iss)] * 8
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        outcomes = Counter(pool.map(_process_attempt, jobs))
    assert outcomes == Counter({"won": 1, "lost": 7})
    assert_consistent(db, signer)
