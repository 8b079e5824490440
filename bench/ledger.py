"""Ledger benchmark on PostgreSQL: signed transfers through the HTTP API against a raw-SQL floor.

    .venv/bin/python bench/ledger.py [--duration 20] [--connections 32] [--workers 2]

Needs `wrk` (Debian: apt-get install wrk) and a PostgreSQL server (CIR_BENCH_POSTGRES_URL, default
127.0.0.1:5432, user postgres). It creates and drops its own database. Figures printed:

- transfers/s through `POST /api/v1/transfers` (oldest-first, each splitting a block), p50/p99
  latency as wrk measures it, and the CPU the load generator used;
- the same transfers done with raw psycopg (lock the block, shrink it, insert the moved part,
  insert the ledger entry, commit) with the same concurrency: the floor, and our ratio to it;
- time from a transfer's commit to the signed checkpoint that includes it, p50/p99;
- inclusion-proof latency through `GET /api/v1/log/proof/inclusion`, p50/p99.
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
from registry.ledger.identity import record_log_identity  # noqa: E402
from registry.ledger.signing import create_key_file, load_signer  # noqa: E402
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


TRANSFER_LUA = """
local pairs = {PAIRS}
local key = "{KEY}"
math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
request = function()
  local p = pairs[math.random(#pairs)]
  local body = '{{"from_account":"' .. p[1] .. '","to_account":"' .. p[2] .. '","quantity_kg":7}}'
  return wrk.format("POST", "/api/v1/transfers",
    {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}}, body)
end
"""

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


def run_wrk(script: str, path: str, connections: int, duration: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f.name,
                          f"http://127.0.0.1:{PORT}{path}"], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(f.name)

    def latency_ms(label: str) -> float:
        value, unit = _match(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(_match(r"(\d+) requests in", out).group(1))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"rps": float(_match(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": latency_ms("50%"), "p99_ms": latency_ms("99%"), "requests": requests,
            "errors": int(non_2xx.group(1)) if non_2xx else 0, "wrk_cpu_share": cpu / duration}


def checkpoint_lag(url: str) -> tuple[float, float]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
            FROM (SELECT extract(epoch FROM c.created_at - e.created_at) AS lag
                  FROM ledger_entry e
                  CROSS JOIN LATERAL (SELECT created_at FROM log_checkpoint c WHERE c.tree_size > e.leaf_index
                                      ORDER BY tree_size LIMIT 1) c
                  WHERE e.kind = 'transfer') lags""").fetchone()
    assert row is not None
    return float(row[0]) * 1000, float(row[1]) * 1000


def tree_size(url: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("SELECT count(*), count(leaf_index) FROM ledger_entry").fetchone()
    assert row is not None
    return int(row[1]) if row[0] == row[1] else -1


FLOOR_ENTRY = json.dumps({"v": 1, "type": "transfer", "id": "trf_" + "x" * 16, "from": "acct_" + "x" * 16,
                          "to": "acct_" + "y" * 16, "quantity_kg": 7, "units": [{
                              "issuance": "iss_" + "z" * 16, "serial": "CN-JS:CIR-PV-DG:1.0:P000001:2025:I001:"
                              "000000001-000000007:K", "first_unit": 1, "last_unit": 7}],
                          "time": "2026-11-23T00:00:00.000000Z"}, separators=(",", ":")).encode()


def floor_worker(args: tuple[str, list[tuple[int, int]], int]) -> tuple[int, float]:
    """Raw psycopg: the same lock, shrink, insert, insert, commit per transfer, nothing else."""
    url, pairs, duration = args
    done = 0
    with psycopg.connect(url) as conn:
        start = time.time()
        deadline = start + duration
        i = os.getpid()
        while time.time() < deadline:
            source, sink = pairs[i % len(pairs)]
            i += 7919
            with conn.transaction():
                block = conn.execute(
                    "SELECT id, issuance_id, first_unit, project_id, vintage FROM credit_block "
                    "WHERE account_id = %s AND status = 'active' ORDER BY vintage, issuance_id, first_unit "
                    "LIMIT 8 FOR UPDATE", (source,)).fetchone()
                assert block is not None
                block_id, issuance_id, first, project_id, vintage = block
                conn.execute("UPDATE credit_block SET first_unit = first_unit + 7, quantity_kg = quantity_kg - 7 "
                             "WHERE id = %s", (block_id,))
                conn.execute("INSERT INTO credit_block (public_id, issuance_id, first_unit, last_unit, quantity_kg, "
                             "account_id, status, project_id, vintage) "
                             "VALUES (%s, %s, %s, %s, 7, %s, 'active', %s, %s)",
                             (uuid.uuid4().hex, issuance_id, first, first + 6, sink, project_id, vintage))
                conn.execute("INSERT INTO ledger_entry (kind, body, from_account_id, to_account_id, created_at) "
                             "VALUES ('transfer', %s, %s, %s, now())", (FLOOR_ENTRY, source, sink))
            done += 1
    return done, time.time() - start


def run_floor(url: str, connections: int, duration: int) -> float:
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw) as conn:
        rows = conn.execute("SELECT a.id FROM account a WHERE name LIKE 'source %' ORDER BY id").fetchall()
        sinks = conn.execute("SELECT a.id FROM account a WHERE name LIKE 'sink %' ORDER BY id").fetchall()
    pairs = [(s[0], k[0]) for s, k in zip(rows, sinks, strict=True)]
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        results = pool.map(floor_worker, [(raw, pairs, duration)] * connections)
    return sum(done / elapsed for done, elapsed in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    admin_url = os.environ.get("CIR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

    url = create_database(admin_url)
    try:
        upgrade_database(url)
        key, pairs = seed(url)
        with tempfile.TemporaryDirectory() as tmp:
            server = start_server(url, args.workers, Path(tmp) / "key.pem")
            try:
                lua_pairs = "{" + ",".join(f'{{"{a}","{b}"}}' for a, b in pairs) + "}"
                http = run_wrk(TRANSFER_LUA.format(PAIRS=lua_pairs, KEY=key), "/api/v1/transfers",
                               args.connections, args.duration)
                for _ in range(50):  # let the sequencer catch up before measuring proofs
                    size = tree_size(url)
                    if size > 0:
                        break
                    time.sleep(0.2)
                lag_p50, lag_p99 = checkpoint_lag(url)
                proof = run_wrk(PROOF_LUA.format(SIZE=size), "/api/v1/log/proof/inclusion", 4, 10)
            finally:
                server.terminate()
                server.wait(timeout=30)
        floor_tps = run_floor(url, args.connections, args.duration)
    finally:
        drop_database(admin_url, url)

    print(f"machine: {os.cpu_count()} cores; server: {args.workers} uvicorn workers + sequencer; "
          f"wrk -t1 -c{args.connections} -d{args.duration}s")
    print(f"HTTP transfers:    {http['rps']:8.0f} /s   p50 {http['p50_ms']:.1f} ms   p99 {http['p99_ms']:.1f} ms   "
          f"({int(http['requests'])} requests, {int(http['errors'])} non-2xx; wrk used "
          f"{http['wrk_cpu_share']:.2f} of a core)")
    print(f"raw psycopg floor: {floor_tps:8.0f} /s   (same transactions, {args.connections} connections)")
    print(f"ratio HTTP/floor:  {http['rps'] / floor_tps:8.2f}")
    print(f"write → signed checkpoint: p50 {lag_p50:.0f} ms   p99 {lag_p99:.0f} ms")
    print(f"inclusion proof (tree of {size} leaves, 4 connections): {proof['rps']:.0f} /s   "
          f"p50 {proof['p50_ms']:.2f} ms   p99 {proof['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
