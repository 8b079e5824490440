"""Ledger benchmark on PostgreSQL: signed transfers (or retirements) through the HTTP API against a
raw-SQL floor, with a log of a chosen size.

    .venv/bin/python bench/ledger.py [--kinds transfer,retire] [--prefill 1000000] [--duration 20]
                                     [--connections 32] [--workers 2]

Needs `wrk` (Debian: apt-get install wrk) and a PostgreSQL server (CIR_BENCH_POSTGRES_URL, default
127.0.0.1:5432, user postgres). It creates and drops its own database. Figures printed:

- transfers/s through `POST /api/v1/transfers` (oldest-first, each splitting a block), or retirements/s
  through `POST /api/v1/retirements`, p50/p99 latency as wrk measures it, and the CPU wrk used;
- the same movements done with raw psycopg with the same concurrency: the floor, and our ratio to it.
  The floor writes the same rows with the fewest statements: the block split off in one statement
  (lock, shrink, insert the moved part), the ledger entry, commit; for a retirement also its record
  before and the record's entry id after;
- time from a movement's commit to the signed checkpoint that includes it, p50/p99;
- inclusion-proof latency through `GET /api/v1/log/proof/inclusion`, p50/p99: alone after the run,
  and under the run's load (4 more connections while the movements run).

`--prefill N` first writes N filler entries (type `bench_filler`) straight into the log, sequenced
as the sequencer would (leaf indexes and perfect-subtree hashes), so that movements and proofs run
against a log of N entries and more.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from methodologies.plugin import AssetKind  # noqa: E402
from registry import credits  # noqa: E402
from registry.accounts import open_account  # noqa: E402
from registry.db import Database  # noqa: E402
from registry.ledger import merkle  # noqa: E402
from registry.ledger.identity import record_log_identity  # noqa: E402
from registry.ledger.signing import create_key_file, load_signer  # noqa: E402
from registry.ledger.verify import leaf_hash  # noqa: E402
from registry.migrate import upgrade_database  # noqa: E402
from registry.models import PartyKind, ProjectStatus, Role  # noqa: E402
from registry.parties import bootstrap_registrar, create_party, issue_api_key  # noqa: E402
from registry.projects import ProjectDetails  # noqa: E402
from registry.settings import Settings  # noqa: E402
from tests.world import validate  # noqa: E402
from verification.assets import AssetSpec  # noqa: E402
from verification.projects import change_project_status, register_project  # noqa: E402

ACCOUNT_PAIRS = 256
UNITS_PER_ACCOUNT = 1_000_000_000
PORT = 8765


def create_database(admin_url: str) -> str:
    name = f"cir_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def seed(url: str) -> tuple[str, list[tuple[str, str]]]:
    """One trader party with ACCOUNT_PAIRS source accounts (each holding one big block) and sinks."""
    db = Database(url)
    with db.write() as s:
        registrar = bootstrap_registrar(s, "Bench registrar").party
        trader = create_party(s, registrar, "Bench trader", PartyKind.ORGANISATION, [Role.PROJECT_OWNER])
        _, key = issue_api_key(s, trader, trader)
        project = register_project(s, trader, ProjectDetails(
            "Bench PV", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou", crediting_period_start=date(2025, 1, 1),
            crediting_period_end=date(2034, 12, 31)), [AssetSpec(AssetKind.METER, "BENCH-METER-1")])
        change_project_status(s, trader, project, ProjectStatus.SUBMITTED)
        validate(s, registrar, project)
        pairs = [(open_account(s, trader, f"source {i}").public_id,
                  open_account(s, trader, f"sink {i}").public_id) for i in range(ACCOUNT_PAIRS)]
        for source, _ in pairs:
            credits.issue_credits(s, registrar, project.public_id, 2025, UNITS_PER_ACCOUNT, source)
    db.dispose()
    return key, pairs


def start_server(url: str, workers: int, key_file: Path) -> subprocess.Popen[bytes]:
    """`cir serve` on the bench's database, with a new log key recorded as the database's own."""
    if not key_file.exists():
        create_key_file(key_file)
        db = Database(url)
        with db.write() as s:
            record_log_identity(s, load_signer(Settings().log_origin, key_file))
        db.dispose()
    env = {**os.environ, "CIR_DATABASE_URL": url, "CIR_SIGNING_KEY_FILE": str(key_file),
           "CIR_SEQUENCER_INTERVAL_S": "0.2"}
    server = subprocess.Popen([str(ROOT / ".venv/bin/cir"), "serve", "--port", str(PORT), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/api/v1/log/key", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server did not start: {server.stderr.read().decode() if server.stderr else ''}")


MOVEMENT_LUA = """
local pairs = {PAIRS}
local key = "{KEY}"
math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
request = function()
  local p = pairs[math.random(#pairs)]
  local body = {BODY}
  return wrk.format("POST", "{PATH}",
    {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}}, body)
end
"""
BODIES = {
    "transfer": ("/api/v1/transfers",
                 """'{"from_account":"' .. p[1] .. '","to_account":"' .. p[2] .. '","quantity_kg":7}'"""),
    "retire": ("/api/v1/retirements",
               """'{"from_account":"' .. p[1] .. '","quantity_kg":7,"beneficiary_name":"Bench factory",'"""
               """ .. '"beneficiary_type":"organisation","purpose":"Bench claim","claim_period_start":"2025-01-01",'"""
               """ .. '"claim_period_end":"2025-12-31"}'"""),
}

PROOF_LUA = """
math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
request = function()
  return wrk.format("GET", "/api/v1/log/proof/inclusion?index=" .. math.random(0, {SIZE} - 1) .. "&tree_size={SIZE}")
end
"""


def _match(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return match

# The same requests in Python, to show why the server refuses them if it does.
SAMPLE_BODIES = {
    "transfer": lambda source, sink: {"from_account": source, "to_account": sink, "quantity_kg": 7},
    "retire": lambda source, _: {"from_account": source, "quantity_kg": 7, "beneficiary_name": "Bench factory",
                                 "beneficiary_type": "organisation", "purpose": "Bench claim",
                                 "claim_period_start": "2025-01-01", "claim_period_end": "2025-12-31"},
}


def start_wrk(script: str, path: str, connections: int, duration: int) -> tuple[subprocess.Popen[str], str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f.name,
                             f"http://127.0.0.1:{PORT}{path}"], stdout=subprocess.PIPE, text=True), f.name


def wrk_result(started: tuple[subprocess.Popen[str], str], duration: int) -> dict[str, float]:
    process, script = started
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, _ = process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(script)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{out}")

    def latency_ms(label: str) -> float:
        value, unit = _match(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(_match(r"(\d+) requests in", out).group(1))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"rps": float(_match(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": latency_ms("50%"), "p99_ms": latency_ms("99%"), "requests": requests,
            "errors": int(non_2xx.group(1)) if non_2xx else 0, "wrk_cpu_share": cpu / duration}


def run_wrk(script: str, path: str, connections: int, duration: int) -> dict[str, float]:
    return wrk_result(start_wrk(script, path, connections, duration), duration)


def checkpoint_lag(url: str, kind: str) -> tuple[float, float]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
            FROM (SELECT extract(epoch FROM c.created_at - e.created_at) AS lag
                  FROM ledger_entry e
                  CROSS JOIN LATERAL (SELECT created_at FROM log_checkpoint c WHERE c.tree_size > e.leaf_index
                                      ORDER BY tree_size LIMIT 1) c
                  WHERE e.kind = %s) lags""", (kind,)).fetchone()
    assert row is not None
    return float(row[0]) * 1000, float(row[1]) * 1000


def tree_size(url: str) -> int:
    """The log's size once every entry is sequenced, -1 before."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("SELECT count(*), count(leaf_index) FROM ledger_entry").fetchone()
    assert row is not None
    return int(row[1]) if row[0] == row[1] else -1


FLOOR_ENTRY = json.dumps({"v": 1, "type": "transfer", "id": "trf_" + "x" * 16, "from": "acct_" + "x" * 16,
                          "to": "acct_" + "y" * 16, "quantity_kg": 7, "units": [{
                              "issuance": "iss_" + "z" * 16, "serial": "CN-JS:CIR-PV-DG:1.0:P000001:2025:I001:"
                              "000000001-000000007:K", "first_unit": 1, "last_unit": 7}],
                          "time": "2026-11-23T00:00:00.000000Z"}, separators=(",", ":")).encode()


# The moved part split off the oldest block in one statement, as the API's PostgreSQL path does.
FLOOR_SPLIT = """
WITH picked AS (
    SELECT id, issuance_id, first_unit, last_unit, project_id, vintage FROM credit_block
    WHERE account_id = %(source)s AND status = 'active' ORDER BY vintage, issuance_id, first_unit LIMIT 1 FOR UPDATE
), shrunk AS (
    UPDATE credit_block b SET first_unit = p.first_unit + 7, quantity_kg = p.last_unit - p.first_unit - 6
    FROM picked p WHERE b.id = p.id AND b.first_unit = p.first_unit AND b.last_unit = p.last_unit RETURNING b.id
)
INSERT INTO credit_block (public_id, issuance_id, first_unit, last_unit, quantity_kg, account_id, status, project_id,
                          vintage, retirement_id)
SELECT %(block)s, p.issuance_id, p.first_unit, p.first_unit + 6, 7, %(target)s, %(status)s, p.project_id, p.vintage,
       %(retirement)s
FROM picked p JOIN shrunk s ON s.id = p.id
"""


def floor_worker(args: tuple[str, str, list[tuple[int, int]], int, int]) -> tuple[int, float]:
    """Raw psycopg: the same rows per movement as the API writes, with the fewest statements."""
    url, kind, pairs, retirement_account, duration = args
    done = 0
    with psycopg.connect(url) as conn:
        start = time.time()
        deadline = start + duration
        i = os.getpid()
        while time.time() < deadline:
            source, sink = pairs[i % len(pairs)]
            i += 7919
            with conn.transaction() as transaction:
                retirement = None
                if kind == "retire":
                    sink = retirement_account
                    row = conn.execute(
                        "INSERT INTO retirement (public_id, account_id, party_id, quantity_kg, beneficiary_name, "
                        "beneficiary_type, purpose, claim_period_start, claim_period_end, public_note, retired_at) "
                        "SELECT %s, %s, party_id, 7, 'Bench factory', 'organisation', 'Bench claim', '2025-01-01', "
                        "'2025-12-31', '', now() FROM account WHERE id = %s RETURNING id",
                        (uuid.uuid4().hex, source, source)).fetchone()
                    assert row is not None
                    retirement = row[0]
                split = conn.execute(FLOOR_SPLIT, {"source": source, "block": uuid.uuid4().hex, "target": sink,
                                                   "status": "retired" if retirement else "active",
                                                   "retirement": retirement})
                if split.rowcount != 1:  # the block changed under the statement, as the API's path falls back
                    raise psycopg.Rollback(transaction)
                entry = conn.execute("INSERT INTO ledger_entry (kind, body, from_account_id, to_account_id, "
                                     "created_at) VALUES (%s, %s, %s, %s, now()) RETURNING id",
                                     (kind, FLOOR_ENTRY, source, sink)).fetchone()
                if retirement:
                    assert entry is not None
                    conn.execute("UPDATE retirement SET ledger_entry_id = %s WHERE id = %s", (entry[0], retirement))
                done += 1
    return done, time.time() - start


def run_floor(url: str, kind: str, connections: int, duration: int) -> float:
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw) as conn:
        rows = conn.execute("SELECT a.id FROM account a WHERE name LIKE 'source %' ORDER BY id").fetchall()
        sinks = conn.execute("SELECT a.id FROM account a WHERE name LIKE 'sink %' ORDER BY id").fetchall()
        retirement = conn.execute("SELECT id FROM account WHERE kind = 'retirement'").fetchone()
    assert retirement is not None
    pairs = [(s[0], k[0]) for s, k in zip(rows, sinks, strict=True)]
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        results = pool.map(floor_worker, [(raw, kind, pairs, retirement[0], duration)] * connections)
    return sum(done / elapsed for done, elapsed in results)


PREFILL_CHUNK = 100_000


def prefill(url: str, entries: int) -> float:
    """`entries` filler entries in the log, sequenced as the sequencer would; returns the seconds taken."""
    started = time.time()
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw) as conn, conn.cursor() as cursor:
        row = cursor.execute("SELECT coalesce(max(id), 0) + 1, now() FROM ledger_entry").fetchone()
        assert row is not None
        first_id, now = row
        frontier: dict[merkle.Node, bytes] = {}
        size = 0
        while size < entries:
            chunk = range(size, min(entries, size + PREFILL_CHUNK))
            bodies = [b'{"n":%d,"type":"bench_filler","v":1}' % n for n in chunk]
            created = merkle.new_perfect_nodes(size, [leaf_hash(body) for body in bodies], frontier)
            with cursor.copy("COPY ledger_entry (id, kind, body, leaf_index, created_at) FROM STDIN") as copy:
                for offset, body in enumerate(bodies):
                    copy.write_row((first_id + size + offset, "bench_filler", body, size + offset, now))
            with cursor.copy("COPY merkle_node (level, position, hash) FROM STDIN") as copy:
                for (level, position), node in created.items():
                    copy.write_row((level, position, node))
            known = {**frontier, **created}
            size += len(bodies)
            frontier = {node: known[node] for node in merkle.root_plan(size)}
            conn.commit()
        cursor.execute("SELECT setval(pg_get_serial_sequence('ledger_entry', 'id'), %s)", (first_id + entries - 1,))
        conn.commit()
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ledger_entry")
        conn.execute("VACUUM ANALYZE merkle_node")
        sizes = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('ledger_entry')), "
                             "pg_size_pretty(pg_total_relation_size('merkle_node'))").fetchone()
    assert sizes is not None
    print(f"log of {entries:,} filler entries: ledger_entry {sizes[0]}, merkle_node {sizes[1]} with their indexes")
    return time.time() - started


@dataclass
class Run:
    """One kind of movement's figures."""

    http: dict[str, float]
    under_load: dict[str, float]
    alone: dict[str, float]
    size: int
    lag_ms: tuple[float, float]
    floor: float = 0.0


def run_kind(url: str, key: str, pairs: list[tuple[str, str]], kind: str, connections: int, duration: int) -> Run:
    """The movements through HTTP, with proofs asked under their load, then proofs alone."""
    path, body = BODIES[kind]
    size = wait_sequenced(url)
    lua_pairs = "{" + ",".join(f'{{"{a}","{b}"}}' for a, b in pairs) + "}"
    movements = start_wrk(MOVEMENT_LUA.format(PAIRS=lua_pairs, KEY=key, BODY=body, PATH=path), path, connections,
                          duration)
    time.sleep(1)  # proofs under load: while the movements run
    loaded = run_wrk(PROOF_LUA.format(SIZE=size), "/api/v1/log/proof/inclusion", 4, duration - 2)
    http = wrk_result(movements, duration)
    if http["errors"] or not http["requests"]:
        sample = httpx.post(f"http://127.0.0.1:{PORT}{path}", json=SAMPLE_BODIES[kind](*pairs[0]),
                            headers={"Authorization": f"Bearer {key}"}, timeout=5)
        raise SystemExit(f"{int(http['errors'])} of {int(http['requests'])} requests failed: "
                         f"{sample.status_code} {sample.text}")
    size = wait_sequenced(url)  # the sequencer caught up before proofs are measured alone
    return Run(http, loaded, run_wrk(PROOF_LUA.format(SIZE=size), "/api/v1/log/proof/inclusion", 4, 10), size,
               checkpoint_lag(url, kind))


def wait_sequenced(url: str) -> int:
    for _ in range(100):
        size = tree_size(url)
        if size > 0:
            return size
        time.sleep(0.2)
    raise SystemExit("the sequencer did not catch up in 20 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="transfer", help="transfer, retire or both (transfer,retire)")
    parser.add_argument("--prefill", type=int, default=0, help="filler entries written into the log first")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if not set(kinds) <= set(BODIES):
        parser.error(f"--kinds: choose from {', '.join(sorted(BODIES))}")
    admin_url = os.environ.get("CIR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

    url = create_database(admin_url)
    try:
        upgrade_database(url)
        key, pairs = seed(url)
        prefill_s = prefill(url, args.prefill) if args.prefill else 0.0
        with tempfile.TemporaryDirectory() as tmp:
            server = start_server(url, args.workers, Path(tmp) / "key.pem")
            try:
                runs = {kind: run_kind(url, key, pairs, kind, args.connections, args.duration) for kind in kinds}
            finally:
                server.terminate()
                server.wait(timeout=30)
        for kind, run in runs.items():
            run.floor = run_floor(url, kind, args.connections, args.duration)
    finally:
        drop_database(admin_url, url)

    print(f"machine: {os.cpu_count()} cores; server: {args.workers} uvicorn workers + sequencer; "
          f"wrk -t1 -c{args.connections} -d{args.duration}s; log prefilled with {args.prefill:,} entries"
          + (f" in {prefill_s:.0f} s" if args.prefill else ""))
    for kind, run in runs.items():
        http, loaded, proof = run.http, run.under_load, run.alone
        print(f"HTTP {kind}s: {http['rps']:8.0f} /s   p50 {http['p50_ms']:.1f} ms   p99 {http['p99_ms']:.1f} ms   "
              f"({int(http['requests'])} requests, {int(http['errors'])} non-2xx; wrk used "
              f"{http['wrk_cpu_share']:.2f} of a core)")
        print(f"  raw psycopg floor: {run.floor:8.0f} /s   (same rows, {args.connections} connections); "
              f"ratio HTTP/floor {http['rps'] / run.floor:.2f}")
        print(f"  write → signed checkpoint: p50 {run.lag_ms[0]:.0f} ms   p99 {run.lag_ms[1]:.0f} ms")
        print(f"  inclusion proof under that load (4 more connections): {loaded['rps']:.0f} /s   "
              f"p50 {loaded['p50_ms']:.2f} ms   p99 {loaded['p99_ms']:.2f} ms   ({int(loaded['errors'])} non-2xx)")
        print(f"  inclusion proof alone (tree of {run.size:,} leaves, 4 connections): {proof['rps']:.0f} /s   "
              f"p50 {proof['p50_ms']:.2f} ms   p99 {proof['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
