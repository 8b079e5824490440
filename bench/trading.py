"""Trading benchmark on PostgreSQL, through the HTTP API of `cir serve` (the sequencer inside), beside plain
transfers through the same API in the same run: the natural floor, since every settlement moves credits.

    .venv/bin/python bench/trading.py [bilateral] [--offers 2000] [--connections 16] [--workers 2]
    .venv/bin/python bench/trading.py book [--orders 4000] [--mixed 2000] [--connections 16] [--workers 2]
    .venv/bin/python bench/trading.py auction [--bids 10000] [--clear-in-process] [--workers 2]
    .venv/bin/python bench/trading.py profile [--orders 200] [--bids 1000]

Needs a PostgreSQL server (CIR_BENCH_POSTGRES_URL, default 127.0.0.1:5432, user postgres); each run creates
and drops its own database. The load generator is Python threads with one HTTP connection each (wrk cannot
send a different body per request); it shares the machine with the server, so its CPU is printed, and so is
how busy the machine was before the run (other work skews every figure).

- bilateral: 7 kg offers made beforehand by one seller to 16 buyers, accepted and settled delivery versus
  payment in the request. Settlement should cost well under two transfers (it is a transfer of locked
  units plus one cash entry).
- book: one product (lots of 1 t, tick 1 fen, band 4,500–5,500 fen/t, fees 30 + 20 bp) on a market clock
  fixed inside a session (CIR_MARKET_CLOCK), 32 sellers with credits and 32 buyers with cash. In turn:
  resting orders (sells above 5,000 fen/t and buys below, interleaved: nothing crosses); crossing buys at
  the band's top, each taking one resting sell (one trade per request, so the request's latency is order
  to settlement); a mixed stream (either side, 1–3 lots, 4,975–5,025 fen/t) where orders rest or trade.
- auction: one auction of the product's credits; `--bids` sealed one-lot bids from 100 bidders placed
  in-process (their rate is printed, it is not a target), every bid winning; then the clearing, the
  allocation and settlement of every winner in one transaction, through `POST /api/v1/auctions/{id}/clearing`
  (or `trading.auctions.clear` in-process with --clear-in-process), timed.
- profile: no server, one thread: orders placed and an auction cleared in-process, with the SQL statements
  of each counted and timed (SQLAlchemy events) and a cProfile of the crossing orders: where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ledger  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, event, make_url, select  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from api.app import create_app  # noqa: E402
from registry import credits  # noqa: E402
from registry.accounts import open_account  # noqa: E402
from registry.db import Database  # noqa: E402
from registry.ledger.signing import create_key_file, load_signer  # noqa: E402
from registry.migrate import upgrade_database  # noqa: E402
from registry.models import Party, PartyKind, Role  # noqa: E402
from registry.parties import create_party, issue_api_key  # noqa: E402
from registry.settings import Settings  # noqa: E402
from trading import auctions, book, cash, offers, products, settlement  # noqa: E402
from trading.models import OrderSide, TimeInForce  # noqa: E402

SELLER_ACCOUNTS = 64
OFFER_KG = 7
CASH_FEN = 10**12
SELLER_KG = 10**8  # each book seller's credits: far more than any run sells

PRODUCT = "BENCH-PV-2025"
LOT_KG = 1000
REFERENCE_FEN = 5_000  # fen per tonne: today's band is 4,500–5,500
BAND_TOP_FEN = 5_500
FEES = settlement.Fees(buyer_bp=30, seller_bp=20)
# A Monday, 10:00 in Shanghai: inside the product's morning session.
MARKET_CLOCK = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BOOK_TRADERS = 32  # sellers, and as many buyers
AUCTION_BIDDERS = 100

# (API key, path under /api/v1, JSON body)
Request = tuple[str, str, dict[str, Any]]


# --- seeding ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trader:
    party: str  # its public id
    key: str
    account: str  # its holding account: credits come from and go to it


@dataclass
class Market:
    trader_key: str  # the ledger bench's trader, which holds every credit at first
    pairs: list[tuple[str, str]]  # the trader's (source, sink) accounts
    buyers: list[Trader] = field(default_factory=list)
    sellers: list[Trader] = field(default_factory=list)


def _registrar(s: Session) -> Party:
    registrar = s.execute(select(Party).where(col(Party.roles).contains("registrar"))).scalars().first()
    assert registrar is not None
    return registrar


def _trader(s: Session) -> Party:
    return s.execute(select(Party).where(col(Party.name) == "Bench trader")).scalars().one()


def seed_market(url: str, buyers: int, sellers: int = 0, product: bool = False) -> Market:
    """The ledger bench's trader and project, a bank, `buyers` parties with cash and a holding account,
    `sellers` parties with SELLER_KG of the trader's credits and a cash account, and the bench's product."""
    trader_key, pairs = ledger.seed(url)
    market = Market(trader_key, pairs)
    db = Database(url)
    with db.write() as s:
        registrar, trader = _registrar(s), _trader(s)
        bank = create_party(s, registrar, "Bench bank", PartyKind.ORGANISATION, [Role.BANK])
        cash.open_cash_account(s, trader)
        for i in range(buyers):
            buyer = create_party(s, registrar, f"Bench buyer {i}", PartyKind.ORGANISATION, [Role.BUYER])
            key = issue_api_key(s, registrar, buyer)[1]
            account = open_account(s, buyer, "Purchases").public_id
            cash_account = cash.open_cash_account(s, buyer).public_id
            cash.confirm_deposit(s, bank, cash_account, CASH_FEN, f"BENCH-{i}")
            market.buyers.append(Trader(buyer.public_id, key, account))
        for i in range(sellers):
            seller = create_party(s, registrar, f"Bench seller {i}", PartyKind.ORGANISATION, [Role.PROJECT_OWNER])
            key = issue_api_key(s, registrar, seller)[1]
            account = open_account(s, seller, "Trading").public_id
            credits.transfer_credits(s, trader, pairs[i % len(pairs)][0], account, SELLER_KG,
                                     credits.OldestFirstSelection())
            cash.open_cash_account(s, seller)
            market.sellers.append(Trader(seller.public_id, key, account))
        if product:
            products.list_product(s, registrar, products.ProductSpec(
                PRODUCT, "Bench Jiangsu PV 2025", methodology_ids=["CIR-PV-DG"], regions=["CN-JS"],
                vintage_from=2025, vintage_to=2025, lot_kg=LOT_KG, tick_fen=1, reference_price_fen=REFERENCE_FEN))
    db.dispose()
    return market


def seed_offers(url: str, market: Market, count: int) -> list[tuple[str, str, str]]:
    """`count` open offers of 7 kg from the trader to the buyers in turn: (buyer key, offer, receiving account)."""
    db = Database(url)
    jobs: list[tuple[str, str, str]] = []
    expires = datetime.now(UTC) + timedelta(days=1)
    for start in range(0, count, 500):
        with db.write() as s:
            trader = _trader(s)
            for i in range(start, min(count, start + 500)):
                buyer = market.buyers[i % len(market.buyers)]
                made = offers.make_offer(s, trader, offers.OfferTerms(
                    buyer.party, market.pairs[i % SELLER_ACCOUNTS][0], OFFER_KG, credits.OldestFirstSelection(),
                    5_000, expires), 30)
                jobs.append((buyer.key, made.public_id, buyer.account))
    db.dispose()
    return jobs


def transfer_requests(market: Market, count: int) -> list[Request]:
    return [(market.trader_key, "/transfers", {"from_account": a, "to_account": b, "quantity_kg": OFFER_KG})
            for i in range(count) for a, b in [market.pairs[i % len(market.pairs)]]]


# --- the load and the machine -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    latency_s: float
    status: int
    trades: int  # the trades in an order's answer


@dataclass
class Run:
    answers: list[Answer]
    wall_s: float
    cpu: CpuUse

    def ok(self, keep: Callable[[Answer], bool] = lambda _: True) -> list[float]:
        return sorted(a.latency_s for a in self.answers if a.status < 300 and keep(a))

    @property
    def per_second(self) -> float:
        return len(self.ok()) / self.wall_s

    @property
    def refused(self) -> int:
        return sum(a.status >= 300 for a in self.answers)

    @property
    def trades(self) -> int:
        return sum(a.trades for a in self.answers)


def percentile_ms(latencies: list[float], share: float) -> float:
    """Nearest rank of sorted latencies, in milliseconds."""
    return latencies[max(0, math.ceil(len(latencies) * share) - 1)] * 1000 if latencies else math.nan


# --- who used the CPU (Linux /proc): the machine is shared, and other work skews every figure --------------


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_seconds(pids: set[int]) -> dict[int, float]:
    """CPU seconds (user + system) each still-running process has used."""
    used = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def process_tree(root: int) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children[int(stat.read_text().rsplit(")", 1)[1].split()[1])].append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo.extend(children[pid])
    return tree


def machine_busy_now(seconds: float = 2.0) -> float:
    """Cores busy over the next `seconds`: before a run, the work of others."""
    busy, total = machine_jiffies()
    time.sleep(seconds)
    after_busy, after_total = machine_jiffies()
    return (after_busy - busy) / (after_total - total) * (os.cpu_count() or 1)


@dataclass(frozen=True)
class CpuUse:
    """Cores in use during a run, on average: all of them, and this bench's own processes."""

    machine: float
    client: float
    server: float
    database: float

    def __str__(self) -> str:
        others = max(0.0, self.machine - self.client - self.server - self.database)
        return (f"cores busy {self.machine:.2f}: server {self.server:.2f}, PostgreSQL {self.database:.2f}, "
                f"client {self.client:.2f}, others {others:.2f}")


class CpuMeter:
    """Measures a run's CPU by process: this one (the client), the server's process tree, and the
    PostgreSQL backends connected to the bench's database."""

    def __init__(self, url: str, server_pid: int | None = None) -> None:
        self.url, self.server_pid = url.replace("postgresql+psycopg", "postgresql"), server_pid
        self.database = make_url(url).database

    def _backends(self) -> set[int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return {row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                                                   "AND pid <> pg_backend_pid()", (self.database,))}

    @contextmanager
    def measure(self) -> Iterator[list[CpuUse]]:
        """Yields a list that holds the run's CpuUse once the block ends."""
        found: list[CpuUse] = []
        server = process_tree(self.server_pid) if self.server_pid else set()
        backends = self._backends()
        machine, client, started = machine_jiffies(), time.process_time(), time.perf_counter()
        before = process_seconds(server | backends)
        yield found
        wall = time.perf_counter() - started
        backends |= self._backends()
        after = process_seconds(server | backends)
        after_machine = machine_jiffies()

        def used(pids: set[int]) -> float:
            return sum(after[pid] - before.get(pid, 0.0) for pid in pids if pid in after) / wall

        cores = os.cpu_count() or 1
        found.append(CpuUse((after_machine[0] - machine[0]) / (after_machine[1] - machine[1]) * cores,
                            (time.process_time() - client) / wall, used(server), used(backends)))


def load(requests: list[Request], connections: int, meter: CpuMeter, count_trades: bool = False) -> Run:
    """Send every (key, path, body) once over `connections` threads, each with its own connection."""
    answers: list[Answer] = []
    lock = threading.Lock()
    position = iter(range(len(requests)))

    def worker() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{ledger.PORT}/api/v1", timeout=60) as client:
            for index in position:
                key, path, body = requests[index]
                started = time.perf_counter()
                answer = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
                elapsed = time.perf_counter() - started
                trades = len(answer.json()["trades"]) if count_trades and answer.status_code < 300 else 0
                with lock:
                    answers.append(Answer(elapsed, answer.status_code, trades))

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    with meter.measure() as cpu:
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    return Run(answers, wall, cpu[0])


def figures(name: str, latencies: list[float], wall_s: float, unit: str = "/s") -> str:
    return (f"{name:24} {len(latencies) / wall_s:7.0f} {unit:10} p50 {percentile_ms(latencies, 0.5):6.1f} ms   "
            f"p99 {percentile_ms(latencies, 0.99):6.1f} ms")


def load_note(run: Run) -> str:
    return f"({len(run.ok())} ok, {run.refused} refused in {run.wall_s:.1f} s; {run.cpu})"


@contextmanager
def serving(url: str, workers: int, market_clock: bool) -> Iterator[CpuMeter]:
    """`cir serve` on the bench's database; for the book and auctions with the market clock inside a session
    and the bench's fees. Yields a meter of the CPU the server, its database and the client use."""
    if market_clock:
        os.environ.update(CIR_MARKET_CLOCK=MARKET_CLOCK.isoformat(), CIR_MARKET_FEE_BUYER_BP=str(FEES.buyer_bp),
                          CIR_MARKET_FEE_SELLER_BP=str(FEES.seller_bp))
    with tempfile.TemporaryDirectory() as tmp:
        server = ledger.start_server(url, workers, Path(tmp) / "key.pem")
        try:
            yield CpuMeter(url, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    url = ledger.create_database(admin_url)
    try:
        upgrade_database(url)
        yield url
    finally:
        ledger.drop_database(admin_url, url)


def machine_line(args: argparse.Namespace, busy_before: float) -> str:
    return (f"machine: {os.cpu_count()} cores, {busy_before:.2f} of them busy before the run; server: {args.workers} "
            f"uvicorn workers + sequencer; PostgreSQL on the same machine; {args.connections} client threads")


# --- bilateral offers -------------------------------------------------------------------------------


def bench_bilateral(admin_url: str, args: argparse.Namespace) -> None:
    busy_before = machine_busy_now()
    with bench_database(admin_url) as url:
        market = seed_market(url, buyers=args.connections)
        jobs = seed_offers(url, market, args.offers)
        accepts = [(key, f"/market/offers/{offer}/acceptance", {"to_account": account}) for key, offer, account in jobs]
        with serving(url, args.workers, market_clock=False) as meter:
            transfer = load(transfer_requests(market, args.offers), args.connections, meter)
            settle = load(accepts, args.connections, meter)
    print(machine_line(args, busy_before) + f"; {args.offers} requests of each kind")
    for name, run in (("HTTP transfers", transfer), ("HTTP accept+settle", settle)):
        print(figures(name, run.ok(), run.wall_s), load_note(run))
    print(f"settlement / transfer time per request: {transfer.per_second / settle.per_second:.2f}")


# --- the order book ---------------------------------------------------------------------------------


def order(trader: Trader, side: str, quantity_kg: int, price_fen_per_t: int) -> Request:
    return (trader.key, f"/market/products/{PRODUCT}/orders", {
        "side": side, "account": trader.account, "quantity_kg": quantity_kg, "price_fen_per_t": price_fen_per_t,
        "time_in_force": "day"})


def resting_requests(market: Market, count: int) -> list[Request]:
    """Sells at 5,001–5,100 fen/t and buys at 4,900–4,999, one lot each, interleaved: none crosses."""
    requests = []
    for i in range(count):
        n = i // 2
        if i % 2 == 0:
            requests.append(order(market.sellers[n % len(market.sellers)], "sell", LOT_KG, REFERENCE_FEN + 1 + n % 100))
        else:
            requests.append(order(market.buyers[n % len(market.buyers)], "buy", LOT_KG, REFERENCE_FEN - 1 - n % 100))
    return requests


def crossing_requests(market: Market, count: int) -> list[Request]:
    """One-lot buys at the band's top: each takes the best resting one-lot sell, one trade apiece."""
    return [order(market.buyers[i % len(market.buyers)], "buy", LOT_KG, BAND_TOP_FEN) for i in range(count)]


def mixed_requests(market: Market, count: int) -> list[Request]:
    """Either side, 1–3 lots, 4,975–5,025 fen/t: some rest, some trade, some partly fill."""
    rng = random.Random(20261207)
    requests = []
    for _ in range(count):
        side = rng.choice(("buy", "sell"))
        traders = market.buyers if side == "buy" else market.sellers
        requests.append(order(rng.choice(traders), side, rng.randint(1, 3) * LOT_KG,
                              REFERENCE_FEN + rng.randint(-25, 25)))
    return requests


def bench_book(admin_url: str, args: argparse.Namespace) -> None:
    busy_before = machine_busy_now()
    sells = (args.orders + 1) // 2
    with bench_database(admin_url) as url:
        market = seed_market(url, buyers=BOOK_TRADERS, sellers=BOOK_TRADERS, product=True)
        with serving(url, args.workers, market_clock=True) as meter:
            transfer = load(transfer_requests(market, sells), args.connections, meter)
            resting = load(resting_requests(market, args.orders), args.connections, meter, count_trades=True)
            crossing = load(crossing_requests(market, sells), args.connections, meter, count_trades=True)
            mixed = load(mixed_requests(market, args.mixed), args.connections, meter, count_trades=True)
    transfers_per_s, resting_per_s = transfer.per_second, resting.per_second
    trades_per_s = crossing.trades / crossing.wall_s
    print(machine_line(args, busy_before) + f"; one product, {BOOK_TRADERS} sellers and {BOOK_TRADERS} buyers")
    print(figures("HTTP transfers", transfer.ok(), transfer.wall_s), load_note(transfer))
    print(figures("resting orders", resting.ok(), resting.wall_s), load_note(resting),
          f"{resting.trades} trades (expected 0)")
    print(figures("crossing buys: trades", crossing.ok(lambda a: a.trades > 0), crossing.wall_s),
          load_note(crossing), f"{crossing.trades} trades in {len(crossing.answers)} orders")
    crossed = mixed.ok(lambda a: a.trades > 0)
    print(figures("mixed stream: orders", mixed.ok(), mixed.wall_s), load_note(mixed))
    print(f"{'  of which trading':24} {len(crossed):7} orders    p50 {percentile_ms(crossed, 0.5):6.1f} ms   "
          f"p99 {percentile_ms(crossed, 0.99):6.1f} ms   ({mixed.trades} trades: {mixed.trades / mixed.wall_s:.0f}/s)")
    rested = mixed.ok(lambda a: a.trades == 0)
    print(f"{'  of which resting':24} {len(rested):7} orders    p50 {percentile_ms(rested, 0.5):6.1f} ms   "
          f"p99 {percentile_ms(rested, 0.99):6.1f} ms")
    print(f"crossing trades/s ÷ transfers/s: {trades_per_s / transfers_per_s:.2f}   "
          f"resting orders/s ÷ transfers/s: {resting_per_s / transfers_per_s:.2f}")
    print(f"targets: ≥ 300 trades/s on one product, p99 < 100 ms: {_met(trades_per_s >= 300)}, "
          f"{_met(percentile_ms(crossing.ok(lambda a: a.trades > 0), 0.99) < 100)}; "
          f"≥ 1,000 resting orders/s: {_met(resting_per_s >= 1000)}")


def _met(met: bool) -> str:
    return "met" if met else "MISSED"


# --- the auction ------------------------------------------------------------------------------------


def seed_auction(url: str, market: Market, bids: int) -> tuple[str, float]:
    """An auction of bids × one lot of the trader's credits, window already closed at MARKET_CLOCK, with
    `bids` one-lot bids placed in-process in its window. Returns its id and the seconds the bids took."""
    announced, closes = MARKET_CLOCK - timedelta(hours=2), MARKET_CLOCK - timedelta(hours=1)
    db = Database(url)
    with db.write() as s:
        auction = auctions.announce(s, _trader(s), auctions.Lot(
            "Bench lot", bids * LOT_KG, REFERENCE_FEN, closes, opens_at=announced, product=PRODUCT,
            from_account=market.pairs[0][0]), announced)
    rng = random.Random(20261207)
    started = time.perf_counter()
    for first in range(0, bids, 250):
        with db.write() as s:
            parties = {p.public_id: p for p in s.execute(select(Party).where(
                col(Party.public_id).in_([b.party for b in market.buyers]))).scalars()}
            for i in range(first, min(bids, first + 250)):
                bidder = market.buyers[i % len(market.buyers)]
                auctions.place_bid(s, parties[bidder.party], auction.public_id, bidder.account, LOT_KG,
                                   REFERENCE_FEN + rng.randint(0, 500), FEES, announced + timedelta(minutes=30))
    placed_s = time.perf_counter() - started
    db.dispose()
    return auction.public_id, placed_s


def bench_auction(admin_url: str, args: argparse.Namespace) -> None:
    busy_before = machine_busy_now()
    with bench_database(admin_url) as url:
        market = seed_market(url, buyers=AUCTION_BIDDERS, product=True)
        auction_id, placed_s = seed_auction(url, market, args.bids)
        if args.clear_in_process:
            how = "trading.auctions.clear in this process (the 'client' below), then commit"
            db = Database(url)
            with CpuMeter(url).measure() as cpu:
                started = time.perf_counter()
                with db.write() as s:
                    cleared = auctions.clear(s, auction_id, FEES, MARKET_CLOCK)
                    status, sold_kg = cleared.status, cleared.sold_kg
                clear_s = time.perf_counter() - started
            db.dispose()
        else:
            how = f"POST /api/v1/auctions/{{id}}/clearing to cir serve --workers {args.workers}"
            with serving(url, args.workers, market_clock=True) as meter, meter.measure() as cpu:
                started = time.perf_counter()
                answer = httpx.post(f"http://127.0.0.1:{ledger.PORT}/api/v1/auctions/{auction_id}/clearing",
                                    headers={"Authorization": f"Bearer {market.buyers[0].key}"}, timeout=1800)
                clear_s = time.perf_counter() - started
            answer.raise_for_status()
            status, sold_kg = answer.json()["status"], answer.json()["sold_kg"]
    print(f"machine: {os.cpu_count()} cores, {busy_before:.2f} of them busy before the run; PostgreSQL on the same "
          "machine")
    print(f"{args.bids} one-lot bids from {AUCTION_BIDDERS} bidders placed in-process, one thread, 250 per "
          f"transaction: {args.bids / placed_s:.0f} bids/s ({placed_s:.1f} s)")
    print(f"clearing: {how}")
    print(f"cleared and settled {args.bids} winning bids in {clear_s:.2f} s ({args.bids / clear_s:.0f} trades/s): "
          f"{status}, {sold_kg:,} kg sold; {cpu[0]}")
    print(f"target: 10,000 bids cleared and settled in < 5 s: {_met(args.bids >= 10_000 and clear_s < 5)}")


# --- where the time goes ----------------------------------------------------------------------------


class StatementLog:
    """Every SQL statement an engine runs, by verb and table, with the time from handing it to the driver
    to its result (driver, round trip and PostgreSQL's work); and how many ran, and for how long, between
    taking a product's matching lock and the COMMIT that frees it: the part no other order overlaps."""

    TABLE = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b(?:.*?\bFROM\s+(\w+)|\s+(\w+))?", re.S)

    def __init__(self, engine: Engine) -> None:
        self.count: Counter[str] = Counter()
        self.seconds: dict[str, float] = defaultdict(float)
        self.locked_statements, self.locked_s = 0, 0.0
        self._started, self._locked_at = 0.0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found = self.TABLE.match(statement)
        if "pg_advisory_xact_lock" in statement:
            kind = "SELECT pg_advisory_xact_lock"
        elif found is None:
            kind = statement.split(None, 1)[0]
        else:
            kind = f"{found.group(1).split()[0]} {found.group(2) or found.group(3) or ''}".strip()
        done = time.perf_counter()
        self.count[kind] += 1
        self.seconds[kind] += done - self._started
        if self._locked_at:
            self.locked_statements += 1
        elif kind == "SELECT pg_advisory_xact_lock":
            self._locked_at = done

    def _end(self, *_: Any) -> None:
        if self._locked_at:
            self.locked_s += time.perf_counter() - self._locked_at
            self._locked_at = 0.0

    def reset(self) -> None:
        self.count.clear()
        self.seconds.clear()
        self.locked_statements, self.locked_s = 0, 0.0


@dataclass
class Timed:
    requests: int
    seconds: float = 0.0  # the whole command (or request), commit included
    commit_s: float = 0.0
    statements: int = 0
    statement_s: float = 0.0
    locked_statements: int = 0
    locked_s: float = 0.0  # from the matching lock to the COMMIT (the COMMIT's round trip not included)
    by_kind: Counter[str] = field(default_factory=Counter)
    seconds_by_kind: dict[str, float] = field(default_factory=dict)

    def ms(self, seconds: float) -> float:
        return seconds / self.requests * 1000


def timed(log: StatementLog, requests: int, run: Callable[[Timed], None]) -> Timed:
    log.reset()
    result = Timed(requests)
    started = time.perf_counter()
    run(result)
    result.seconds = time.perf_counter() - started
    result.statements, result.statement_s = sum(log.count.values()), sum(log.seconds.values())
    result.locked_statements, result.locked_s = log.locked_statements, log.locked_s
    result.by_kind, result.seconds_by_kind = Counter(log.count), dict(log.seconds)
    return result


def timed_writes(db: Database, log: StatementLog, commands: list[Callable[[Session], object]]) -> Timed:
    """Run each command in its own write transaction, timing the commit apart."""

    def run(result: Timed) -> None:
        for command in commands:
            with db.write() as s:
                command(s)
                committing = time.perf_counter()
            result.commit_s += time.perf_counter() - committing

    return timed(log, len(commands), run)


def timed_requests(client: TestClient, log: StatementLog, requests: list[Request]) -> Timed:
    """Send each request through the app in this process, one at a time: no sockets, no other load."""

    def run(_: Timed) -> None:
        for key, path, body in requests:
            client.post(path, json=body, headers={"Authorization": f"Bearer {key}"}).raise_for_status()

    return timed(log, len(requests), run)


@contextmanager
def app_in_process(db: Database) -> Iterator[TestClient]:
    """The API app on the bench's database, driven by Starlette's test client: the full request path
    (routing, auth, validation, the command, the answer) without sockets or a second process."""
    with tempfile.TemporaryDirectory() as tmp:
        create_key_file(Path(tmp) / "key.pem")
        settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=Path(tmp) / "blobs",
                            market_clock=MARKET_CLOCK, market_fee_buyer_bp=FEES.buyer_bp,
                            market_fee_seller_bp=FEES.seller_bp)
        app = create_app(settings, db=db, signer=load_signer(settings.log_origin, Path(tmp) / "key.pem"),
                         migrate=False)
        with TestClient(app, base_url="http://bench/api/v1") as client:
            yield client


def print_timed(name: str, result: Timed, per: str = "order", n: int = 0) -> None:
    n = n or result.requests
    python_ms = (result.seconds - result.commit_s - result.statement_s) / n * 1000
    print(f"{name:30} {result.seconds / n * 1000:6.2f} ms per {per}: {result.statements / n:5.1f} statements "
          f"taking {result.statement_s / n * 1000:5.2f} ms, Python around them {python_ms:5.2f} ms"
          + (f", commit {result.commit_s / n * 1000:4.2f} ms" if result.commit_s else ""))


def layer_of(filename: str, name: str) -> str:
    if "/sqlalchemy/" in filename:
        return "SQLAlchemy (ORM, Core, compile)"
    if "/psycopg" in filename or "psycopg" in name:
        return "psycopg (driver, incl. waiting on the server)"
    if "/pydantic" in filename or "/sqlmodel/" in filename:
        return "pydantic / sqlmodel"
    if filename.startswith(str(ROOT)) and "/.venv/" not in filename:
        return "our code (trading/, registry/)"
    return "other (stdlib, builtins)"


def print_profile(profile: cProfile.Profile, orders: int) -> None:
    raw: dict[Any, Any] = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    by_layer: Counter[str] = Counter()
    for (filename, _, name), (_, _, own_s, _, _) in raw.items():
        by_layer[layer_of(filename, name)] += own_s
    total = sum(by_layer.values())
    print(f"cProfile of {orders} crossing buys in-process ({total / orders * 1000:.2f} ms per order under the "
          "profiler), own time by layer:")
    for layer, seconds in by_layer.most_common():
        print(f"  {layer:46} {seconds / total:5.0%}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(r"/(trading|registry)/", 16)
    print("  our functions by cumulative time:")
    for line in out.getvalue().splitlines():
        found = re.match(r"\s*(\d+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+(\S+)$", line)
        if found:
            calls, cumulative, where = found.groups()
            per_order_ms, calls_per_order = float(cumulative) / orders * 1000, int(calls) / orders
            where = where.replace(str(ROOT) + "/", "")
            print(f"    {per_order_ms:6.2f} ms per order {calls_per_order:5.1f} calls  {where}")


def round_trip_ms(url: str, count: int = 2000) -> float:
    """The floor under any statement: `SELECT 1` through psycopg, autocommit, best of three."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(count):
                conn.execute("SELECT 1").fetchone()
            best = min(best, (time.perf_counter() - started) / count * 1000)
    return best


def bench_profile(admin_url: str, args: argparse.Namespace) -> None:
    busy_before = machine_busy_now()
    n = args.orders
    with bench_database(admin_url) as url:
        market = seed_market(url, buyers=8, sellers=8, product=True)
        db = Database(url)
        log = StatementLog(db.write_engine)
        with db.read() as s:
            parties = {p.public_id: p for p in s.execute(select(Party)).scalars()}

        def place(trader: Trader, side: str, price: int) -> Callable[[Session], object]:
            return lambda s: book.place_order(s, parties[trader.party], PRODUCT, book.OrderTerms(
                OrderSide(side), trader.account, LOT_KG, price, TimeInForce.DAY), FEES, MARKET_CLOCK)

        def sells() -> list[Callable[[Session], object]]:
            return [place(market.sellers[i % 8], "sell", REFERENCE_FEN + 1 + i % 100) for i in range(n)]

        def crossing_buys() -> list[Callable[[Session], object]]:
            return [place(market.buyers[i % 8], "buy", BAND_TOP_FEN) for i in range(n)]

        resting_sell = timed_writes(db, log, sells())
        resting_buy = timed_writes(db, log, [place(market.buyers[i % 8], "buy", REFERENCE_FEN - 1 - i % 100)
                                             for i in range(n)])
        crossing = timed_writes(db, log, crossing_buys())
        with app_in_process(db) as client:
            http_resting = timed_requests(client, log, resting_requests(market, 2 * n)[::2])
            http_crossing = timed_requests(client, log, crossing_requests(market, n))
        timed_writes(db, log, sells())
        profile = cProfile.Profile()
        profile.enable()
        timed_writes(db, log, crossing_buys())
        profile.disable()
        db.dispose()
        auction_id, _ = seed_auction(url, market, args.bids)
        db = Database(url)
        log = StatementLog(db.write_engine)
        cleared = timed_writes(db, log, [lambda s: auctions.clear(s, auction_id, FEES, MARKET_CLOCK)])
        db.dispose()
        rtt_ms = round_trip_ms(url)
    print(f"machine: {os.cpu_count()} cores, {busy_before:.2f} of them busy before the run; one thread; PostgreSQL "
          f"on the same machine; a round trip (SELECT 1 through psycopg) takes {rtt_ms:.3f} ms")
    print("in-process, trading.book.place_order in its own transaction:")
    print_timed("  resting sell (locks credits)", resting_sell)
    print_timed("  resting buy (holds cash)", resting_buy)
    print_timed("  crossing buy, one trade", crossing)
    print("through the API app in-process (test client: routing, auth, the command and its answer, no sockets):")
    print_timed("  resting sell", http_resting, "request")
    print_timed("  crossing buy, one trade", http_crossing, "request")
    for name, result in (("resting sell", http_resting), ("crossing buy", http_crossing)):
        locked = result.locked_statements / n
        print(f"  {name}: {locked:.1f} statements and {result.ms(result.locked_s):.2f} ms (COMMIT not included) hold "
              f"the product's matching lock: at most {1000 / result.ms(result.locked_s):.0f} such orders/s on one "
              f"product, however many workers; their round trips alone, {locked * rtt_ms:.2f} ms, would allow "
              f"{1000 / (locked * rtt_ms):.0f}/s")
    print("in-process, trading.auctions.clear:")
    print_timed(f"  {args.bids} winning bids", cleared, "winning bid", args.bids)
    print(f"  10,000 winning bids at {cleared.statements / args.bids:.0f} statements each: "
          f"{cleared.seconds / args.bids * 10_000:.0f} s at this rate; their round trips alone "
          f"{cleared.statements / args.bids * 10_000 * rtt_ms / 1000:.0f} s")
    for title, result, per in (("statements per crossing buy through the app", http_crossing, n),
                               (f"statements per winning bid in the auction clearing ({args.bids} bids)", cleared,
                                args.bids)):
        print(f"{title}, and their time:")
        for kind, count in result.by_kind.most_common():
            print(f"  {count / per:5.2f}  {result.seconds_by_kind[kind] / per * 1000:5.2f} ms  {kind}")
    print_profile(profile, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=("bilateral", "book", "auction", "profile"), default="bilateral")
    parser.add_argument("--offers", type=int, default=2000, help="bilateral: offers accepted (and transfers sent)")
    parser.add_argument("--orders", type=int, help="book: resting orders, half of them sells that as many "
                        "crossing buys then take (default 4000); profile: orders of each kind (default 200)")
    parser.add_argument("--mixed", type=int, default=2000, help="book: orders in the mixed stream")
    parser.add_argument("--bids", type=int, help="bids in the auction (default 10000; profile: 1000)")
    parser.add_argument("--clear-in-process", action="store_true",
                        help="auction: clear with trading.auctions.clear in this process, not through HTTP")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    profiling = args.part == "profile"
    args.orders = args.orders or (200 if profiling else 4000)
    args.bids = args.bids or (1000 if profiling else 10_000)
    admin_url = os.environ.get("CIR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    {"bilateral": bench_bilateral, "book": bench_book, "auction": bench_auction,
     "profile": bench_profile}[args.part](admin_url, args)


if __name__ == "__main__":
    main()
