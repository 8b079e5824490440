"""Many traders on one book at once, on PostgreSQL (SQLite's `BEGIN IMMEDIATE` lets one writer in at a
time, so it has no race to lose): threads in one process placing crossing orders through
`book.place_order`, and client threads sending them to `cir serve` with two worker processes.

Afterwards, whatever the interleaving: every order's fill is the sum of its trades, no seller
delivered more than it offered, credits and cash are conserved, no trade was settled twice (one
delivery in the ledger and one cash entry each), the book is not crossed, what each order still
reserves is exactly its unfilled rest, and the audit of the whole journal passes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from api.commands import ATTEMPTS, RETRYABLE_SQLSTATES
from registry.db import Database
from registry.ledger.audit import AuditReport
from registry.ledger.identity import record_log_identity
from registry.ledger.models import LedgerEntry
from registry.ledger.signing import LogSigner, create_key_file, load_signer
from registry.models import Account, CreditBlock, Party
from registry.parties import issue_api_key
from tests.conftest import empty_database
from tests.trading.book_world import CODE, FEES, MONDAY_10, Book, make_book
from tests.trading.test_trading import audit_everything
from trading import book, cash
from trading.models import BookOrder, CashEntry, CashHold, OrderSide, OrderStatus, TimeInForce, Trade

CREDITS_EACH_KG = 20_000
CASH_EACH_FEN = 5_000_000
TRADERS = ("a", "b", "c")
ORDERS_EACH = 5


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    """PostgreSQL only, emptied back to its migrated state; conftest's check that credits and cash
    are conserved runs after each test here as everywhere."""
    empty_database(postgres_url)
    database = Database(postgres_url, pool_size=16)
    yield database
    database.dispose()


def order_terms(thread: int, turn: int) -> tuple[OrderSide, int, int | None]:
    """The `turn`th order of a thread: sides alternate, every buy (5,030–5,050) crosses every sell
    (4,950–4,970), buys are 1–3 lots and sells 1, so no trader sells more than it holds; each
    thread's last order is a market order."""
    side = OrderSide.BUY if (thread + turn) % 2 else OrderSide.SELL
    lots = 1 + (thread + turn) % 3 if side == OrderSide.BUY else 1
    price = (5050 - 10 * (turn % 3)) if side == OrderSide.BUY else (4950 + 10 * (turn % 3))
    return side, lots * 1000, None if turn == ORDERS_EACH - 1 else price


def run_at_once(count: int, work: Callable[[int], None]) -> None:
    """`work(i)` in `count` threads released together; any exception fails the test."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert failures == [], failures


def write_retrying(db: Database, command: Callable[[Session], book.Placed], retried: Counter[str]) -> book.Placed:
    """One command in one transaction, rerun on a deadlock or a serialization failure as the API's
    Writer does (api/commands.py)."""
    for attempt in range(ATTEMPTS):
        try:
            with db.write() as s:
                return command(s)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS - 1:
                raise
            retried[str(sqlstate)] += 1
    raise AssertionError("unreachable")


def placing(party: Party, terms: book.OrderTerms) -> Callable[[Session], book.Placed]:
    return lambda s: book.place_order(s, party, CODE, terms, FEES, MONDAY_10)


def assert_the_book_is_sound(db: Database, bk: Book, orders: set[str], reported_trades: list[str]) -> None:
    """What must hold after any interleaving of the orders `orders`, whose placing returned the
    trades `reported_trades`."""
    with db.snapshot() as s:
        placed = {o.public_id: o for o in s.execute(select(BookOrder)).scalars()}
        trades = s.execute(select(Trade)).scalars().all()
        assert set(placed) == orders, "an order was lost or made"
        assert sorted(t.public_id for t in trades) == sorted(reported_trades), "a trade reported twice or never"

        # Time priority is a total order; every order's fill is the sum of its trades; nobody traded
        # with itself, nor outside both orders' limits.
        traded: Counter[str] = Counter()
        paid: Counter[str] = Counter()  # by buy order: amounts and buyer's fees
        for trade in trades:
            assert trade.buy_ref is not None and trade.sell_ref is not None
            assert placed[trade.buy_ref].side == OrderSide.BUY and placed[trade.sell_ref].side == OrderSide.SELL
            assert trade.buyer_party_id != trade.seller_party_id
            assert placed[trade.sell_ref].price_fen_per_t <= trade.price_fen_per_t
            assert trade.price_fen_per_t <= placed[trade.buy_ref].price_fen_per_t
            traded[trade.buy_ref] += trade.quantity_kg
            traded[trade.sell_ref] += trade.quantity_kg
            paid[trade.buy_ref] += trade.amount_fen + trade.buyer_fee_fen
        priorities = Counter(o.priority for o in placed.values())
        assert priorities.most_common(1)[0][1] == 1, "two orders share a place in the queue"
        for order in placed.values():
            assert traded[order.public_id] == order.filled_kg <= order.quantity_kg, order
            assert (order.status == OrderStatus.FILLED) == (order.filled_kg == order.quantity_kg), order

        # Nothing oversold: no seller delivered more than its sell orders offered, and every trader
        # holds what it started with, plus what it bought, less what it sold.
        for trader in bk.traders.values():
            party = trader.party.id
            offered = sum(o.quantity_kg for o in placed.values() if o.party_id == party and o.side == OrderSide.SELL)
            sold = sum(t.quantity_kg for t in trades if t.seller_party_id == party)
            bought = sum(t.quantity_kg for t in trades if t.buyer_party_id == party)
            assert sold <= offered
            held = s.execute(select(func.coalesce(func.sum(col(CreditBlock.quantity_kg)), 0))
                             .join(Account, col(Account.id) == col(CreditBlock.account_id))
                             .where(col(Account.public_id) == trader.account)).scalar_one()
            assert held == CREDITS_EACH_KG + bought - sold
            account = cash.get_cash_account(s, trader.cash)
            assert account.available_fen + account.held_fen == CASH_EACH_FEN + sum(
                t.amount_fen - t.seller_fee_fen for t in trades if t.seller_party_id == party) - sum(
                t.amount_fen + t.buyer_fee_fen for t in trades if t.buyer_party_id == party)

        # No trade settled twice: one delivery in the ledger and one cash entry per trade.
        assert len({t.ledger_entry_id for t in trades}) == len({t.cash_entry_id for t in trades}) == len(trades)
        deliveries = Counter(json.loads(body).get("trade") for body in s.execute(
            select(col(LedgerEntry.body)).where(col(LedgerEntry.kind) == "deliver")).scalars())
        assert deliveries == Counter(t.public_id for t in trades)
        settlements = Counter(s.execute(select(col(CashEntry.reference))
                                        .where(col(CashEntry.kind) == "settlement")).scalars())
        assert settlements == Counter(t.public_id for t in trades)
        for trade in trades:
            entry = s.get(LedgerEntry, trade.ledger_entry_id)
            assert entry is not None and json.loads(entry.body)["trade"] == trade.public_id
            assert json.loads(entry.body)["quantity_kg"] == trade.quantity_kg

        # The book is not crossed, and each order reserves exactly its unfilled rest.
        bids = [o.price_fen_per_t for o in placed.values() if o.status == OrderStatus.OPEN and o.side == OrderSide.BUY]
        asks = [o.price_fen_per_t for o in placed.values() if o.status == OrderStatus.OPEN and o.side == OrderSide.SELL]
        assert not bids or not asks or max(bids) < min(asks), "the book is crossed"
        locked = dict(s.execute(select(col(CreditBlock.lock_ref), func.sum(col(CreditBlock.quantity_kg)))
                                .where(col(CreditBlock.status) == "locked").group_by(col(CreditBlock.lock_ref))).all())
        holds = dict(s.execute(select(col(CashHold.reference), col(CashHold.amount_fen))).all())
        for order in placed.values():
            rest = order.quantity_kg - order.filled_kg if order.status == OrderStatus.OPEN else 0
            if order.side == OrderSide.SELL:
                assert locked.pop(order.public_id, 0) == rest, order
            elif rest:  # no amendments here: the hold is what was held at first, less what was paid
                assert holds.get(order.public_id) == book.hold_for(
                    order.quantity_kg, order.price_fen_per_t, FEES) - paid[order.public_id], order
            else:
                assert holds.get(order.public_id, 0) == 0, order
        assert locked == {}, f"credits locked for no open sell order: {locked}"
        report = AuditReport()
        cash.audit_cash(s, report)
        assert report.problems == [], report.problems


def test_threads_place_crossing_orders_on_one_book_at_once(db: Database, signer: LogSigner) -> None:
    bk = make_book(db, CREDITS_EACH_KG, CASH_EACH_FEN)
    threads = 8
    placed: list[book.Placed] = []
    retried: Counter[str] = Counter()
    lock = threading.Lock()

    def work(i: int) -> None:
        trader = bk.traders[TRADERS[i % len(TRADERS)]]
        for turn in range(ORDERS_EACH):
            side, quantity, price = order_terms(i, turn)
            terms = book.OrderTerms(side, trader.account, quantity, price, TimeInForce.GTC)
            result = write_retrying(db, placing(trader.party, terms), retried)
            with lock:
                placed.append(result)

    run_at_once(threads, work)
    assert len(placed) == threads * ORDERS_EACH
    # Matching is serialised per product before anything is written: no deadlock to retry.
    assert retried == Counter(), retried
    reported = [t.public_id for p in placed for t in p.trades]
    assert reported, "the crossing orders never traded"
    assert_the_book_is_sound(db, bk, {p.order.public_id for p in placed}, reported)
    assert audit_everything(db, signer) == []


# --- two API worker processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_processes(parent: int) -> list[int]:
    """The uvicorn workers `cir serve --workers N` spawned: its children running multiprocessing's spawn."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        # The parent pid is the second field after the command name in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def start_server(db: Database, key_file: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`cir serve --workers 2` on the test database with the tests' fees, its market clock at Monday
    10:00 in Shanghai, in a process group of its own so that stopping it stops its workers too."""
    env = {**os.environ, "CIR_DATABASE_URL": db.url, "CIR_SIGNING_KEY_FILE": str(key_file),
           "CIR_MARKET_CLOCK": MONDAY_10.isoformat(), "CIR_MARKET_FEE_BUYER_BP": str(FEES.buyer_bp),
           "CIR_MARKET_FEE_SELLER_BP": str(FEES.seller_bp), "CIR_BLOB_DIR": str(log.parent / "blobs")}
    env.pop("CIR_API_KEY", None)
    cir = Path(sys.executable).parent / "cir"
    with log.open("wb") as output:
        server = subprocess.Popen([str(cir), "serve", "--port", str(port), "--workers", "2"], cwd=log.parent,
                                  env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def wait_until_serving(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Fails (never skips) the test if the server exits or does not answer within a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v1/log/key", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"`cir serve --workers 2` did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def test_two_api_workers_take_crossing_orders_at_once(db: Database, tmp_path: Path) -> None:
    bk = make_book(db, CREDITS_EACH_KG, CASH_EACH_FEN)
    key_file = tmp_path / "log-key.pem"
    create_key_file(key_file)
    signer = load_signer("registry.test/log", key_file)
    with db.write() as s:
        record_log_identity(s, signer)  # `cir serve` refuses a key that is not the registry's own
        keys = {name: issue_api_key(s, bk.market.base.registrar, trader.party)[1]
                for name, trader in bk.traders.items()}
    clients = 12
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        name = TRADERS[i % len(TRADERS)]
        with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {keys[name]}"},
                          timeout=60) as client:
            for turn in range(ORDERS_EACH):
                side, quantity, price = order_terms(i, turn)
                body: dict[str, object] = {"side": side.value, "account": bk.traders[name].account,
                                           "quantity_kg": quantity, "time_in_force": "gtc"}
                if price is not None:
                    body["price_fen_per_t"] = price
                answer = client.post(f"/market/products/{CODE}/orders", json=body)
                with lock:
                    answers.append(answer)

    server = start_server(db, key_file, port, log)
    try:
        wait_until_serving(server, url, log)
        assert len(worker_processes(server.pid)) == 2, log.read_text(errors="replace")
        run_at_once(clients, work)
        assert len(worker_processes(server.pid)) == 2, "a worker died under load"
    finally:
        stop_server(server)
    assert server.returncode is not None

    assert len(answers) == clients * ORDERS_EACH
    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers if a.status_code != 201]
    placed = [a.json() for a in answers]
    reported = [t["id"] for p in placed for t in p["trades"]]
    assert reported, "the crossing orders never traded"
    assert_the_book_is_sound(db, bk, {p["order"]["id"] for p in placed}, reported)
    assert audit_everything(db, signer) == []
