"""Trading benchmark on PostgreSQL: bilateral offers accepted and settled (delivery versus payment)
through the HTTP API, beside plain transfers through the same API in the same run.

    .venv/bin/python bench/trading.py [--offers 2000] [--connections 16] [--workers 2]

Needs a PostgreSQL server (CIR_BENCH_POSTGRES_URL, default 127.0.0.1:5432, user postgres); creates
and drops its own database. The load generator is Python threads with one HTTP connection each
(wrk cannot send a different request body per offer). Figures printed, for each kind:
requests/s, p50 and p99 latency; and the ratio settlement/transfer, where settlement should cost
well under twice a transfer (a settlement is a transfer of locked units plus one cash entry).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ledger  # noqa: E402
from sqlmodel import select  # noqa: E402

from registry import credits  # noqa: E402
from registry.accounts import open_account  # noqa: E402
from registry.db import Database  # noqa: E402
from registry.migrate import upgrade_database  # noqa: E402
from registry.models import Party, PartyKind, Role  # noqa: E402
from registry.parties import create_party, issue_api_key  # noqa: E402
from trading import cash, offers  # noqa: E402

SELLER_ACCOUNTS = 64
OFFER_KG = 7


def seed(url: str, count: int, buyers: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The ledger bench's trader and project, a bank, `buyers` buyers with cash, and `count` open offers
    of 7 kg to them. Returns (buyer key, offer, receiving account) for each offer and the transfer pairs."""
    trader_key, pairs = ledger.seed(url)
    db = Database(url)
    jobs: list[tuple[str, str, str]] = []
    with db.write() as s:
        registrar = s.execute(select(Party).where(Party.roles.contains("registrar"))).scalars().first()
        trader = s.execute(select(Party).where(Party.name == "Bench trader")).scalars().one()
        assert registrar is not None
        bank = create_party(s, registrar, "Bench bank", PartyKind.ORGANISATION, [Role.BANK])
        cash.open_cash_account(s, trader)
        people = []
        for i in range(buyers):
            buyer = create_party(s, registrar, f"Bench buyer {i}", PartyKind.ORGANISATION, [Role.BUYER])
            key = issue_api_key(s, registrar, buyer)[1]
            account = open_account(s, buyer, "Purchases").public_id
            cash_account = cash.open_cash_account(s, buyer).public_id
            cash.confirm_deposit(s, bank, cash_account, 10**12, f"BENCH-{i}")
            people.append((buyer, key, account))
    expires = datetime.now(UTC) + timedelta(days=1)
    for start in range(0, count, 500):
        with db.write() as s:
            for i in range(start, min(count, start + 500)):
                buyer, key, account = people[i % buyers]
                source = pairs[i % SELLER_ACCOUNTS][0]
                made = offers.make_offer(s, trader, offers.OfferTerms(
                    buyer.public_id, source, OFFER_KG, credits.OldestFirstSelection(), 5_000, expires), 30)
                jobs.append((key, made.public_id, account))
    db.dispose()
    transfers = [(trader_key, a, b) for a, b in pairs]
    return jobs, transfers


def load(requests: list[tuple[str, str, dict[str, object]]], connections: int) -> dict[str, float]:
    """Send every (key, path, body) once over `connections` threads; latencies of the 2xx answers."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    position = iter(range(len(requests)))

    def worker() -> None:
        nonlocal failures
        with httpx.Client(base_url=f"http://127.0.0.1:{ledger.PORT}/api/v1", timeout=30) as client:
            for index in position:
                key, path, body = requests[index]
                started = time.perf_counter()
                answer = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
                elapsed = time.perf_counter() - started
                with lock:
                    if answer.status_code < 300:
                        latencies.append(elapsed)
                    else:
                        failures += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / wall, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "ok": len(latencies), "failed": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    admin_url = os.environ.get("CIR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url = ledger.create_database(admin_url)
    try:
        upgrade_database(url)
        jobs, pairs = seed(url, args.offers, args.connections)
        accepts = [(key, f"/market/offers/{offer}/acceptance", {"to_account": account}) for key, offer, account in jobs]
        transfers = [(key, "/transfers", {"from_account": a, "to_account": b, "quantity_kg": OFFER_KG})
                     for i in range(args.offers) for key, a, b in [pairs[i % len(pairs)]]]
        with tempfile.TemporaryDirectory() as tmp:
            server = ledger.start_server(url, args.workers, Path(tmp) / "key.pem")
            try:
                transfer = load(transfers, args.connections)
                settle = load(accepts, args.connections)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        ledger.drop_database(admin_url, url)
    print(f"machine: {os.cpu_count()} cores; server: {args.workers} uvicorn workers + sequencer; "
          f"{args.connections} client threads; {args.offers} requests of each kind")
    for name, figures in (("HTTP transfers", transfer), ("HTTP accept+settle", settle)):
        print(f"{name:19} {figures['rps']:7.0f} /s   p50 {figures['p50_ms']:.1f} ms   p99 {figures['p99_ms']:.1f} ms   "
              f"({int(figures['ok'])} ok, {int(figures['failed'])} refused)")
    print(f"settlement / transfer time per request: {transfer['rps'] / settle['rps']:.2f}")


if __name__ == "__main__":
    main()
