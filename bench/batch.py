"""Batches on PostgreSQL: `POST /api/v1/transfers/batch` (or `/retirements/batch`) through `cir serve`
against a raw-SQL floor.

    .venv/bin/python bench/batch.py [--kinds transfer,retire] [--sizes 100,1000,10000] [--sources 8]
                                    [--repeat 3] [--workers 2] [--prefill 1000000]

Needs a PostgreSQL server (CIR_BENCH_POSTGRES_URL, default 127.0.0.1:5432, user postgres); it creates and
drops its own database, seeded as `bench/ledger.py` seeds it (256 source accounts, each one block of 10⁹
units, and 256 sinks). A batch of N movements takes 7 kg each from `--sources` source accounts in turn to
the sinks in turn, so every movement cuts a new block and writes a ledger entry. Printed per size: the
request's wall time (client to answer, JSON both ways included) and movements/s, best and median of
`--repeat`; how long the sequencer then took to put them all in a signed checkpoint; and the floor: the
same rows written in one transaction with raw psycopg (lock each source's block, shrink it once, COPY the
N new blocks and the N ledger entries, and for retirements first the N retirement records, their ids and
the entries' drawn from the sequences), nothing else. `--prefill N` first puts N filler entries in the
log, as `bench/ledger.py` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ledger  # noqa: E402

KG = 7
FLOOR_ENTRY = b'{"from":"acct_floor","id":"trf_floor","quantity_kg":7,"to":"acct_floor","type":"transfer","units":[]}'


def batch_body(kind: str, pairs: list[tuple[str, str]], size: int, sources: int) -> dict[str, object]:
    if kind == "retire":
        return {"retirements": [{"from_account": pairs[i % sources][0], "quantity_kg": KG,
                                 "beneficiary_name": f"User {i}", "beneficiary_type": "individual",
                                 "purpose": "Green commute 2025", "claim_period_start": "2025-01-01",
                                 "claim_period_end": "2025-12-31"} for i in range(size)]}
    return {"transfers": [{"from_account": pairs[i % sources][0], "to_account": pairs[i % len(pairs)][1],
                           "quantity_kg": KG} for i in range(size)]}


PATHS = {"transfer": "/api/v1/transfers/batch", "retire": "/api/v1/retirements/batch"}


def sequenced(url: str) -> None:
    """Wait until the server's sequencer has every entry in the log: its work on one run must not slow
    the next."""
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM ledger_entry WHERE leaf_index IS NULL").fetchone() != (0,):
            time.sleep(0.2)


def through_http(url: str, key: str, kind: str, body: dict[str, object]) -> tuple[float, float]:
    """The request's wall time, and the time from its answer until the sequencer had its entries in a
    signed checkpoint."""
    sequenced(url)
    started = time.perf_counter()
    answer = httpx.post(f"http://127.0.0.1:{ledger.PORT}{PATHS[kind]}", json=body, timeout=600,
                        headers={"Authorization": f"Bearer {key}"})
    answered = time.perf_counter()
    answer.raise_for_status()
    (done,) = answer.json().values()
    (asked,) = body.values()
    assert len(done) == len(asked)  # type: ignore[arg-type]
    sequenced(url)
    return answered - started, time.perf_counter() - answered


def floor(url: str, kind: str, size: int, sources: int) -> float:
    """The same rows with raw psycopg, one transaction: per source one locking select and one shrink, then
    (retirements: the records first) the new blocks and the ledger entries by COPY, PostgreSQL's fastest way in."""
    sequenced(url)
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw) as conn:
        source_ids = [row[0] for row in conn.execute(
            "SELECT id FROM account WHERE name LIKE 'source %%' ORDER BY id LIMIT %s", (sources,))]
        sinks = [row[0] for row in conn.execute("SELECT id FROM account WHERE name LIKE 'sink %' ORDER BY id")]
        if kind == "retire":
            retired = conn.execute("SELECT id FROM account WHERE kind = 'retirement'").fetchone()
            assert retired is not None
            sinks = [retired[0]]
        party = conn.execute("SELECT party_id FROM account WHERE id = %s", (source_ids[0],)).fetchone()
        assert party is not None
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            retirement_ids: list[int | None] = [None] * size
            entry_ids = [row[0] for row in cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) FROM generate_series(1, %s)", (size,))]
            if kind == "retire":
                retirement_ids = [row[0] for row in cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('retirement', 'id')) FROM generate_series(1, %s)",
                    (size,))]
                with cursor.copy("COPY retirement (id, public_id, account_id, party_id, quantity_kg, beneficiary_name, "
                                 "beneficiary_type, purpose, claim_period_start, claim_period_end, public_note, "
                                 "ledger_entry_id, retired_at) FROM STDIN") as copy:
                    now = datetime.now(UTC)
                    for i in range(size):
                        copy.write_row((retirement_ids[i], uuid.uuid4().hex, source_ids[i % sources], party[0], KG,
                                        f"User {i}", "individual", "Green commute 2025", "2025-01-01",
                                        "2025-12-31", "", None, now))
            blocks, entries = [], []
            for n, source in enumerate(source_ids):
                block_id, issuance_id, first, project_id, vintage = conn.execute(
                    "SELECT id, issuance_id, first_unit, project_id, vintage FROM credit_block WHERE account_id = %s "
                    "AND status = 'active' ORDER BY vintage, issuance_id, first_unit LIMIT 8 FOR UPDATE",
                    (source,)).fetchone() or (0, 0, 0, 0, 0)
                mine = range(n, size, sources)
                conn.execute("UPDATE credit_block SET first_unit = first_unit + %s, quantity_kg = quantity_kg - %s "
                             "WHERE id = %s", (KG * len(mine), KG * len(mine), block_id))
                for k, i in enumerate(mine):
                    sink = sinks[i % len(sinks)]
                    blocks.append((uuid.uuid4().hex, issuance_id, first + KG * k, first + KG * k + KG - 1, sink,
                                   project_id, vintage, retirement_ids[i]))
                    entries.append((entry_ids[i], FLOOR_ENTRY, source, sink))
            status = "retired" if kind == "retire" else "active"
            with cursor.copy("COPY credit_block (public_id, issuance_id, first_unit, last_unit, quantity_kg, "
                             "account_id, status, project_id, vintage, retirement_id) FROM STDIN") as copy:
                for public_id, issuance, first_unit, last_unit, sink, project, year, retirement in blocks:
                    copy.write_row((public_id, issuance, first_unit, last_unit, KG, sink, status, project, year,
                                    retirement))
            with cursor.copy("COPY ledger_entry (id, kind, body, from_account_id, to_account_id, created_at) "
                             "FROM STDIN") as copy:
                now = datetime.now(UTC)
                for entry_id, body, source_id, sink in entries:
                    copy.write_row((entry_id, kind, body, source_id, sink, now))
            if kind == "retire":  # the records name their entries (the foreign key needs the entries first)
                cursor.execute("UPDATE retirement r SET ledger_entry_id = v.entry FROM unnest(%s::bigint[], "
                               "%s::bigint[]) AS v(id, entry) WHERE r.id = v.id", (retirement_ids, entry_ids))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="transfer", help="transfer, retire or both (transfer,retire)")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prefill", type=int, default=0, help="filler entries written into the log first")
    args = parser.parse_args()
    admin_url = os.environ.get("CIR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url = ledger.create_database(admin_url)
    try:
        ledger.upgrade_database(url)
        key, pairs = ledger.seed(url)
        prefill_s = ledger.prefill(url, args.prefill) if args.prefill else 0.0
        with tempfile.TemporaryDirectory() as tmp:
            server = ledger.start_server(url, args.workers, Path(tmp) / "key.pem")
            try:
                print(f"machine: {os.cpu_count()} cores; server: {args.workers} uvicorn workers + sequencer; "
                      f"PostgreSQL on the same machine; {args.sources} source accounts, "
                      f"{KG} kg a movement; log prefilled with {args.prefill:,} entries"
                      + (f" in {prefill_s:.0f} s" if args.prefill else ""))
                for kind in args.kinds.split(","):
                    for size in (int(s) for s in args.sizes.split(",")):
                        body = batch_body(kind, pairs, size, args.sources)
                        timings = [through_http(url, key, kind, body) for _ in range(args.repeat)]
                        runs, sequencing = [run for run, _ in timings], [wait for _, wait in timings]
                        floors = [floor(url, kind, size, args.sources) for _ in range(args.repeat)]
                        best, median, best_floor = min(runs), statistics.median(runs), min(floors)
                        print(f"{kind:8} {size:>6} movements: HTTP best {best:6.2f} s = {size / best:7.0f}/s, median "
                              f"{size / median:7.0f}/s; raw SQL floor {best_floor:5.2f} s = "
                              f"{size / best_floor:7.0f}/s; ratio {best_floor / best:.2f}; then all in a signed "
                              f"checkpoint within {statistics.median(sequencing):.2f} s (median: the sequencer at "
                              f"{size / statistics.median(sequencing):,.0f} entries/s)")
                print("target: ≥ 10,000 movements/s through HTTP")
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        ledger.drop_database(admin_url, url)


if __name__ == "__main__":
    main()
