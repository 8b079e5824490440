"""Batches of transfers (an aggregator moving credits for its households in one command), through the
service layer on SQLite and PostgreSQL: oldest units first, cut in the order given, one ledger entry
each, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from api.cli import app
from api.client import RegistryAPIError, RegistryClient
from registry import credits, errors, queries
from registry.accounts import RETIREMENT_ACCOUNT, open_account
from registry.credits import BatchRetirement, BatchTransfer
from registry.db import Database
from registry.ledger import log
from registry.ledger.audit import audit
from registry.ledger.log import sequence_all
from registry.ledger.models import LedgerEntry
from registry.ledger.signing import LogSigner
from registry.ledger.verify import parse_verifier_key, verify_bundle
from registry.models import Account, CreditBlock, Retirement
from registry.settings import Settings
from tests.live_server import live_server
from tests.world import World, issue, make_world

runner = CliRunner()


@dataclass
class Households:
    world: World
    accounts: list[str]  # the aggregator's households' accounts, held by the aggregator for them
    second: str  # the aggregator's second account, with credits of its own
    vintages: dict[str, int]  # issuance → vintage


def households(db: Database, count: int = 6) -> Households:
    """The aggregator (the world's owner) with 1,000 kg of 2024 credits and 5,000 kg of 2025 in its main
    account, 2,000 kg of 2025 in a second account, and `count` more accounts to distribute to."""
    world = make_world(db)
    vintages = {issue(db, world, kg, vintage=vintage).ranges[0].issuance_public_id: vintage
                for kg, vintage in ((1_000, 2024), (7_000, 2025))}
    with db.write() as s:
        accounts = [open_account(s, world.owner, f"Household {i}").public_id for i in range(count)]
        second = open_account(s, world.owner, "Second").public_id
        credits.transfer_credits(s, world.owner, world.owner_account, second, 2_000,
                                 credits.OldestFirstSelection(vintage=2025))
    return Households(world, accounts, second, vintages)


def run_batch(db: Database, hh: Households, transfers: list[BatchTransfer]) -> list[credits.Movement]:
    with db.write() as s:
        return credits.transfer_batch(s, hh.world.owner, transfers)


def held(db: Database) -> dict[str, int]:
    with db.read() as s:
        rows = s.execute(select(CreditBlock.account_id, func.sum(CreditBlock.quantity_kg))
                         .group_by(CreditBlock.account_id)).all()
        names = dict(s.execute(select(Account.id, Account.public_id)).all())
    return {names[account_id]: int(total) for account_id, total in rows}


def state(db: Database) -> tuple[object, ...]:
    """Everything a refused batch must leave as it was: every block, and the ledger."""
    with db.read() as s:
        blocks = s.execute(select(CreditBlock.public_id, CreditBlock.account_id, CreditBlock.status,
                                  CreditBlock.first_unit, CreditBlock.last_unit).order_by(CreditBlock.id)).all()
        entries = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    return tuple(blocks), entries


def test_a_batch_cuts_the_oldest_units_in_the_order_given(db: Database, signer: LogSigner) -> None:
    hh = households(db)
    main, h = hh.world.owner_account, hh.accounts
    moved = run_batch(db, hh, [BatchTransfer(main, h[0], 300), BatchTransfer(main, h[1], 700),
                               BatchTransfer(hh.second, h[2], 1_500), BatchTransfer(main, h[3], 400),
                               BatchTransfer(main, h[4], 100), BatchTransfer(hh.second, h[5], 500)])
    # main holds 2024 units 1–1,000 and 2025 units 2,001–7,000 (the second account took 1–2,000)
    assert [[(hh.vintages[r.issuance_public_id], r.first_unit, r.last_unit) for r in m.ranges] for m in moved] == [
        [(2024, 1, 300)], [(2024, 301, 1_000)], [(2025, 1, 1_500)], [(2025, 2_001, 2_400)], [(2025, 2_401, 2_500)],
        [(2025, 1_501, 2_000)]]
    assert [m.quantity_kg for m in moved] == [300, 700, 1_500, 400, 100, 500]
    assert held(db) == {main: 4_500, h[0]: 300, h[1]: 700, h[2]: 1_500, h[3]: 400, h[4]: 100, h[5]: 500}
    with db.read() as s:
        entries = s.execute(select(LedgerEntry.id, LedgerEntry.kind).where(
            LedgerEntry.id.in_([m.ledger_entry_id for m in moved])).order_by(LedgerEntry.id)).all()
    assert [entry_id for entry_id, _ in entries] == [m.ledger_entry_id for m in moved]  # in the order given
    assert {kind for _, kind in entries} == {"transfer"}
    sequence_all(db, signer)
    with db.snapshot() as s:
        assert audit(s, signer.verifier_key).problems == []


def test_a_batch_moves_what_the_same_transfers_one_by_one_would(db: Database) -> None:
    hh = households(db, count=40)
    batch = [BatchTransfer(hh.world.owner_account, account, 7 + 5 * i) for i, account in enumerate(hh.accounts)]
    moved = run_batch(db, hh, batch)
    one_by_one = households(db, count=40)  # a second aggregator with the same holdings
    with db.write() as s:
        singles = [credits.transfer_credits(s, one_by_one.world.owner, one_by_one.world.owner_account, account,
                                            7 + 5 * i, credits.OldestFirstSelection())
                   for i, account in enumerate(one_by_one.accounts)]
    assert ([[(hh.vintages[r.issuance_public_id], r.first_unit, r.last_unit) for r in m.ranges] for m in moved]
            == [[(one_by_one.vintages[r.issuance_public_id], r.first_unit, r.last_unit) for r in m.ranges]
                for m in singles])
    assert len({r.issuance_public_id for m in moved for r in m.ranges}) == 2  # the batch crossed a vintage


Make = Callable[[Households], list[BatchTransfer]]


def _ok(hh: Households, i: int) -> BatchTransfer:
    return BatchTransfer(hh.world.owner_account, hh.accounts[i], 100)


REFUSALS: list[tuple[str, type[errors.RegistryError], Make, str]] = [
    ("an unknown account", errors.UnknownAccount,
     lambda hh: [_ok(hh, 0), BatchTransfer(hh.world.owner_account, "acct_nope", 100)],
     "transfer 2: no account acct_nope"),
    ("another party's account as the source", errors.NotAccountHolder,
     lambda hh: [_ok(hh, 0), BatchTransfer(hh.world.factory_account, hh.accounts[1], 1)], "transfer 2:"),
    ("a zero quantity", errors.InvalidQuantity,
     lambda hh: [_ok(hh, 0), _ok(hh, 1), BatchTransfer(hh.world.owner_account, hh.accounts[2], 0)], "transfer 3:"),
    ("a source and destination the same", errors.InvalidRequest,
     lambda hh: [BatchTransfer(hh.second, hh.second, 5), _ok(hh, 1)], "transfer 1:"),
    ("credits out of circulation", errors.InvalidRequest,
     lambda hh: [_ok(hh, 0), BatchTransfer(hh.world.owner_account, RETIREMENT_ACCOUNT, 5)], "transfer 2:"),
    ("more than the source holds, together", errors.InsufficientCredits,
     lambda hh: [BatchTransfer(hh.world.owner_account, a, 1_001) for a in hh.accounts], "holds 6000 kg"),
    ("an empty batch", errors.InvalidRequest, lambda hh: [], "1 to 10,000 transfers"),
    ("too many transfers", errors.InvalidRequest,
     lambda hh: [_ok(hh, i % 6) for i in range(credits.MAX_BATCH + 1)], "not 10,001"),
]


@pytest.mark.parametrize(("name", "error", "make", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_batch_with_one_bad_transfer_changes_nothing(db: Database, name: str, error: type[errors.RegistryError],
                                                       make: Make, message: str) -> None:
    hh = households(db)
    before = state(db)
    with pytest.raises(error) as refused:
        run_batch(db, hh, make(hh))
    assert message in refused.value.message
    assert state(db) == before


# --- through HTTP and the CLI, against a live server -------------------------------------------------


def test_an_aggregator_distributes_to_its_households_from_a_csv_over_http(
        db: Database, signer: LogSigner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hh = households(db, count=200)
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        batch = tmp_path / "july.csv"
        batch.write_text("from_account,to_account,quantity_kg\n" + "".join(
            f"{hh.world.owner_account},{account},{5 + i % 20}\n" for i, account in enumerate(hh.accounts)))
        done = runner.invoke(app, ["transfer-batch", str(batch), "--idempotency-key", "july-2025"],
                             env={"CIR_API_KEY": hh.world.owner_key})
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[-1] == "200 transfers, 2,900 kg"  # 200 × 5 + 10 × (0 + … + 19)
        after = held(db)
        assert [after[account] for account in hh.accounts] == [5 + i % 20 for i in range(200)]
        with db.read() as s:  # 200 rows: on PostgreSQL the blocks and the entries went by COPY
            entries = s.execute(select(LedgerEntry.to_account_id).where(LedgerEntry.kind == "transfer")
                                .order_by(LedgerEntry.id)).scalars().all()
            ids = dict(s.execute(select(Account.public_id, Account.id)).all())
        assert entries[-200:] == [ids[account] for account in hh.accounts]  # in the file's order
        sequence_all(db, signer)
        with db.snapshot() as s:
            assert audit(s, signer.verifier_key).problems == []
        again = runner.invoke(app, ["transfer-batch", str(batch), "--idempotency-key", "july-2025"],
                              env={"CIR_API_KEY": hh.world.owner_key})
        assert again.output == done.output and held(db) == after  # the retry replayed, nothing moved twice

        with RegistryClient(url, hh.world.owner_key) as client:
            answer = client.transfer_batch([{"from_account": hh.second, "to_account": hh.accounts[0],
                                             "quantity_kg": 5}])
            assert [(t["type"], t["quantity_kg"], len(t["units"])) for t in answer["transfers"]] == [("transfer", 5, 1)]
            before = state(db)
            for bad, status, says in [
                ([{"from_account": hh.second, "to_account": hh.accounts[1], "quantity_kg": 5},
                  {"from_account": hh.second, "to_account": hh.accounts[2], "quantity_kg": -5}], 422, "quantity_kg"),
                ([{"from_account": hh.second, "to_account": hh.accounts[1], "quantity_kg": 5},
                  {"from_account": hh.world.factory_account, "to_account": hh.accounts[2], "quantity_kg": 5}],
                 403, "transfer 2:"),
                ([{"from_account": hh.second, "to_account": hh.accounts[1], "quantity_kg": 10**6}], 409,
                 "not 1000000 kg"),
                ([], 422, "transfers"),
            ]:
                with pytest.raises(RegistryAPIError) as refused:
                    client.transfer_batch(bad)
                assert refused.value.status == status and says in str(refused.value), refused.value
            assert state(db) == before

        broken = tmp_path / "broken.csv"
        broken.write_text(f"from_account,to_account,quantity_kg\n{hh.second},{hh.accounts[1]},ten\n")
        refused_file = runner.invoke(app, ["transfer-batch", str(broken)], env={"CIR_API_KEY": hh.world.owner_key})
        assert refused_file.exit_code == 1 and "line 2: quantity_kg 'ten'" in refused_file.output
        assert state(db) == before


def test_a_batch_file_is_csv_with_named_columns() -> None:
    text = "\ufeffto_account,quantity_kg,from_account,note\nacct_b, 120 ,acct_a,July\nacct_c,5,acct_a,\n"
    assert credits.batch_from_csv(text) == [BatchTransfer("acct_a", "acct_b", 120),
                                            BatchTransfer("acct_a", "acct_c", 5)]
    with pytest.raises(errors.InvalidRequest, match="no column quantity_kg"):
        credits.batch_from_csv("from_account,to_account,kg\nacct_a,acct_b,5\n")
    with pytest.raises(errors.InvalidQuantity, match=r"line 3: quantity_kg '1\.5'"):
        credits.batch_from_csv("from_account,to_account,quantity_kg\nacct_a,acct_b,5\nacct_a,acct_b,1.5\n")


# --- distributing one issuance ----------------------------------------------------------------------


def test_a_batch_narrowed_to_an_issuance_distributes_it_in_serial_order(db: Database, signer: LogSigner) -> None:
    hh = households(db)
    main, h = hh.world.owner_account, hh.accounts
    newer = next(issuance for issuance, vintage in hh.vintages.items() if vintage == 2025)
    with db.write() as s:
        moved = credits.transfer_batch(s, hh.world.owner, [BatchTransfer(main, h[0], 300),
                                                           BatchTransfer(main, h[1], 200)],
                                       credits.OldestFirstSelection(issuance_public_id=newer))
    # main's older 2024 units stay: only the named issuance's units (2,001–7,000 held here) move
    assert [[(r.issuance_public_id, r.first_unit, r.last_unit) for r in m.ranges] for m in moved] == [
        [(newer, 2_001, 2_300)], [(newer, 2_301, 2_500)]]
    assert held(db)[main] == 6_000 - 500
    sequence_all(db, signer)
    with db.snapshot() as s:
        assert audit(s, signer.verifier_key).problems == []


@pytest.mark.parametrize(("issuance", "error", "message"), [
    ("iss_nope", errors.UnknownIssuance, "no issuance iss_nope"),
    ("2024", errors.InsufficientCredits, "holds 1000 kg matching this request, not 1200 kg"),
])
def test_a_distribution_beyond_the_issuance_changes_nothing(db: Database, issuance: str,
                                                            error: type[errors.RegistryError], message: str) -> None:
    hh = households(db)
    named = next((i for i, vintage in hh.vintages.items() if str(vintage) == issuance), issuance)
    before = state(db)
    with pytest.raises(error) as refused, db.write() as s:
        credits.transfer_batch(s, hh.world.owner, [BatchTransfer(hh.world.owner_account, a, 600)
                                                   for a in hh.accounts[:2]],
                               credits.OldestFirstSelection(issuance_public_id=named))
    assert message in refused.value.message
    assert state(db) == before


# --- batches of retirements -------------------------------------------------------------------------

def _retiring(account: str, kg: int, who: str = "Li Wei", kind: str = "individual", purpose: str = "Commute 2025",
              start: date = date(2025, 1, 1), end: date = date(2025, 12, 31)) -> BatchRetirement:
    return BatchRetirement(account, kg, credits.RetirementDetails(who, kind, purpose, start, end, "app"))


def test_a_retirement_batch_retires_for_each_beneficiary_with_its_own_record_and_proof(
        db: Database, signer: LogSigner) -> None:
    hh = households(db)
    main = hh.world.owner_account
    with db.write() as s:
        moved = credits.retire_batch(s, hh.world.owner, [
            _retiring(main, 600, "Li Wei"), _retiring(hh.second, 150, "Wang Fang"),
            _retiring(main, 500, "Suzhou Marathon 2025", "event", "The race's emissions")])
    # main: 2024 units 1–1,000, then 2025 from 2,001; the second account: 2025 units 1–2,000
    assert [[(hh.vintages[r.issuance_public_id], r.first_unit, r.last_unit) for r in m.ranges] for m in moved] == [
        [(2024, 1, 600)], [(2025, 1, 150)], [(2024, 601, 1_000), (2025, 2_001, 2_100)]]
    assert held(db)[RETIREMENT_ACCOUNT] == 1_250
    sequence_all(db, signer)
    with db.read() as s:
        records = [queries.retirement_out(s, m.public_id) for m in moved]
        bundle = log.retirement_proof_bundle(s, moved[2].public_id)
    assert [(r.beneficiary_name, r.beneficiary_type, r.quantity_kg, r.public_note) for r in records] == [
        ("Li Wei", "individual", 600, "app"), ("Wang Fang", "individual", 150, "app"),
        ("Suzhou Marathon 2025", "event", 500, "app")]
    assert [[u.serial for u in r.units] for r in records] == [[u.serial for u in m.ranges] for m in moved]
    # offline, from the bundle and the log's key
    proven = verify_bundle(bundle, parse_verifier_key(signer.verifier_key))
    assert proven["beneficiary"] == {"name": "Suzhou Marathon 2025", "type": "event"}
    assert proven["id"] == moved[2].public_id and proven["quantity_kg"] == 500
    with db.snapshot() as s:
        assert audit(s, signer.verifier_key).problems == []


def test_a_retirement_batch_records_what_single_retirements_would(db: Database) -> None:
    batch_world, single_world = households(db), households(db)
    with db.write() as s:
        batch = credits.retire_batch(s, batch_world.world.owner, [_retiring(batch_world.world.owner_account, kg)
                                                                  for kg in (400, 700, 35)])
        singles = [credits.retire_credits(s, single_world.world.owner, single_world.world.owner_account, kg,
                                          credits.OldestFirstSelection(), _retiring("", kg).details)[1]
                   for kg in (400, 700, 35)]

    def body(movement: credits.Movement) -> dict[str, object]:
        entry = json.loads(movement.entry)
        return {key: value for key, value in entry.items() if key not in {"id", "from", "time", "units"}}

    assert [body(m) for m in batch] == [body(m) for m in singles]
    assert ([[(r.first_unit, r.last_unit) for r in m.ranges] for m in batch]
            == [[(r.first_unit, r.last_unit) for r in m.ranges] for m in singles])


MakeRetirements = Callable[[Households], list[BatchRetirement]]

RETIREMENT_REFUSALS: list[tuple[str, type[errors.RegistryError], MakeRetirements, str]] = [
    ("an unknown account", errors.UnknownAccount,
     lambda hh: [_retiring(hh.world.owner_account, 5), _retiring("acct_nope", 5)], "retirement 2: no account"),
    ("another party's account", errors.NotAccountHolder,
     lambda hh: [_retiring(hh.world.owner_account, 5), _retiring(hh.world.factory_account, 5)], "retirement 2:"),
    ("a zero quantity", errors.InvalidQuantity, lambda hh: [_retiring(hh.world.owner_account, 0)], "retirement 1:"),
    ("an unknown beneficiary type", errors.InvalidRequest,
     lambda hh: [_retiring(hh.world.owner_account, 5), _retiring(hh.world.owner_account, 5, kind="household")],
     "retirement 2: beneficiary_type must be one of"),
    ("no purpose", errors.InvalidRequest,
     lambda hh: [_retiring(hh.world.owner_account, 5, purpose="  ")], "retirement 1: a retirement names"),
    ("a claim period that ends before it starts", errors.InvalidRequest,
     lambda hh: [_retiring(hh.world.owner_account, 5, start=date(2025, 6, 1), end=date(2025, 5, 31))],
     "retirement 1: the claim period ends before it starts"),
    ("credits newer than the claim period", errors.CreditsNotAvailable,
     lambda hh: [_retiring(hh.world.owner_account, 900, start=date(2024, 1, 1), end=date(2024, 12, 31)),
                 _retiring(hh.world.owner_account, 200, start=date(2024, 1, 1), end=date(2024, 12, 31))],
     "retirement 2: credits of vintage 2025 cannot back a claim period ending 2024-12-31"),
    ("more than the account holds, together", errors.InsufficientCredits,
     lambda hh: [_retiring(hh.second, 1_500), _retiring(hh.second, 501)], "holds 2000 kg"),
    ("an empty batch", errors.InvalidRequest, lambda hh: [], "1 to 10,000 retirements"),
    ("too many retirements", errors.InvalidRequest,
     lambda hh: [_retiring(hh.world.owner_account, 1)] * (credits.MAX_BATCH + 1), "not 10,001"),
]


@pytest.mark.parametrize(("name", "error", "make", "message"), RETIREMENT_REFUSALS,
                         ids=[r[0] for r in RETIREMENT_REFUSALS])
def test_a_retirement_batch_with_one_bad_retirement_changes_nothing(
        db: Database, name: str, error: type[errors.RegistryError], make: MakeRetirements, message: str) -> None:
    hh = households(db)
    before = state(db), retirements(db)
    with pytest.raises(error) as refused, db.write() as s:
        credits.retire_batch(s, hh.world.owner, make(hh))
    assert message in refused.value.message
    assert (state(db), retirements(db)) == before


def retirements(db: Database) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Retirement)).scalar_one()


def test_a_retirement_batch_file_is_csv_with_named_columns() -> None:
    text = ("\ufeffpurpose,from_account,quantity_kg,beneficiary_name,beneficiary_type,claim_period_start,"
            "claim_period_end\nCommute,acct_a, 12 ,Li Wei,individual,2025-01-01,2025-12-31\n")
    assert credits.retirement_batch_from_csv(text) == [BatchRetirement("acct_a", 12, credits.RetirementDetails(
        "Li Wei", "individual", "Commute", date(2025, 1, 1), date(2025, 12, 31), ""))]
    with pytest.raises(errors.InvalidRequest, match="no column beneficiary_type, purpose"):
        credits.retirement_batch_from_csv("from_account,quantity_kg,beneficiary_name,claim_period_start,"
                                          "claim_period_end\n")
    with pytest.raises(errors.InvalidRequest, match="line 2: claim_period_start and claim_period_end are days"):
        credits.retirement_batch_from_csv(text.replace("2025-12-31", "31/12/2025"))


def test_a_platform_retires_for_its_users_and_distributes_an_issuance_over_http(
        db: Database, signer: LogSigner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hh = households(db, count=3)
    newer = next(issuance for issuance, vintage in hh.vintages.items() if vintage == 2025)
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        env = {"CIR_API_KEY": hh.world.owner_key}
        users = tmp_path / "users.csv"
        users.write_text("from_account,quantity_kg,beneficiary_name,beneficiary_type,purpose,claim_period_start,"
                         "claim_period_end,public_note\n" + "".join(
                             f"{hh.world.owner_account},{10 + i % 20},User {i},individual,Green commute 2025,"
                             "2025-01-01,2025-12-31,via the app\n" for i in range(150)))
        done = runner.invoke(app, ["retire-batch", str(users), "--idempotency-key", "commute-2025"], env=env)
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[-1].startswith("150 retirements, 2,875 kg;")  # 150 × 10 + 7 × 190 + 45
        again = runner.invoke(app, ["retire-batch", str(users), "--idempotency-key", "commute-2025"], env=env)
        assert again.output == done.output
        assert held(db)[RETIREMENT_ACCOUNT] == 2_875 and retirements(db) == 150
        sequence_all(db, signer)
        with db.snapshot() as s:  # 150 rows: on PostgreSQL the records went by COPY, their entries named after
            assert audit(s, signer.verifier_key).problems == []
            unnamed = s.execute(select(func.count()).select_from(Retirement)
                                .where(col(Retirement.ledger_entry_id).is_(None))).scalar_one()
            last = s.execute(select(Retirement.public_id).order_by(col(Retirement.id).desc())).scalars().first()
        assert unnamed == 0 and last is not None
        with RegistryClient(url) as public:  # anyone checks the last one offline, from its bundle and the key
            proven = verify_bundle(public.retirement_proof(last), parse_verifier_key(signer.verifier_key))
        assert (proven["id"], proven["beneficiary"]["name"], proven["quantity_kg"]) == (last, "User 149", 10 + 149 % 20)

        shares = tmp_path / "shares.csv"
        shares.write_text("from_account,to_account,quantity_kg\n" + "".join(
            f"{hh.world.owner_account},{account},100\n" for account in hh.accounts))
        distributed = runner.invoke(app, ["transfer-batch", str(shares), "--issuance", newer], env=env)
        assert distributed.exit_code == 0, distributed.output
        with db.read() as s:  # the retirements took 2024's 1,000 kg and 2025's units 2,001–3,875
            ids = dict(s.execute(select(Account.public_id, Account.id)).all())
            got = [s.execute(select(CreditBlock.first_unit, CreditBlock.last_unit).where(
                CreditBlock.account_id == ids[account])).all() for account in hh.accounts]
        assert got == [[(3_876, 3_975)], [(3_976, 4_075)], [(4_076, 4_175)]]
        with RegistryClient(url, hh.world.owner_key) as client:
            before = state(db), retirements(db)
            for call, status, says in [
                (lambda: client.retire_batch([{"from_account": hh.second, "quantity_kg": 5,
                                               "beneficiary_name": "A", "beneficiary_type": "individual",
                                               "purpose": "B", "claim_period_start": "2025-01-01",
                                               "claim_period_end": "2025-12-31"},
                                              {"from_account": hh.world.factory_account, "quantity_kg": 5,
                                               "beneficiary_name": "A", "beneficiary_type": "individual",
                                               "purpose": "B", "claim_period_start": "2025-01-01",
                                               "claim_period_end": "2025-12-31"}]), 403, "retirement 2:"),
                (lambda: client.retire_batch([{"from_account": hh.second, "quantity_kg": 5}]), 422,
                 "beneficiary_name"),
                (lambda: client.transfer_batch([{"from_account": hh.world.owner_account,
                                                 "to_account": hh.accounts[0], "quantity_kg": 5}],
                                               issuance="iss_nope"), 404, "no issuance iss_nope"),
            ]:
                with pytest.raises(RegistryAPIError) as refused:
                    call()
                assert refused.value.status == status and says in str(refused.value), refused.value
            assert (state(db), retirements(db)) == before
