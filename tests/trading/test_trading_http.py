"""The bank, a seller, a buyer and the public through `cir` and the HTTP API against a live server:
deposits, a bilateral trade with payment, the tape, a pledge; refusals are problem details that
change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.parties import issue_api_key
from registry.settings import Settings
from tests.live_server import live_server
from tests.trading.trading_world import make_market

runner = CliRunner()


def cir(*args: str, key: str = "") -> str:
    result = runner.invoke(app, list(args), env={"CIR_API_KEY": key})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_bilateral_trade_and_a_pledge_through_the_cli(db: Database, signer: LogSigner, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mkt = make_market(db, factory_fen=0)
    world = mkt.base
    with db.write() as s:
        bank_key = issue_api_key(s, world.registrar, mkt.bank)[1]
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs",
                        market_fee_buyer_bp=30, market_fee_seller_bp=20)
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        assert "10,000.00 yuan" in cir("cash", "deposit", mkt.factory_cash, "1000000", "--bank-reference",
                                       "BOS-1", key=bank_key)
        refused = runner.invoke(app, ["cash", "deposit", mkt.factory_cash, "1000000", "--bank-reference", "BOS-1"],
                                env={"CIR_API_KEY": bank_key})
        assert refused.exit_code == 1 and "already confirmed" in refused.output
        assert "10,000.00 yuan free" in cir("cash", "show", key=world.factory_key)

        expires = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        made = cir("offer", "make", world.factory.public_id, "--from", world.owner_account, "--price-fen-per-t",
                   "6000", "--expires-at", expires, "--quantity-kg", "20000", key=world.owner_key)
        offer = made.split()[1]
        assert "20,000 kg" in made and "1,200.00 yuan" in made
        assert offer in cir("offer", "list", "--role", "buyer", key=world.factory_key)
        accepted = cir("offer", "accept", offer, "--to", world.factory_account, key=world.factory_key)
        assert "paid 1,203.60 yuan (fee 3.60 yuan)" in accepted
        assert "1,197.60 yuan free" in cir("cash", "show", key=world.owner_key)

        tape = httpx.get(f"{url}/api/v1/market/trades").json()["items"]
        assert [(row["quantity_kg"], row["price_fen_per_t"], row["mode"]) for row in tape] == \
            [(20_000, 6_000, "bilateral")]
        assert "seller" not in tape[0] and "buyer" not in tape[0]
        csv = httpx.get(f"{url}/api/v1/market/trades", params={"format": "csv"}).text
        assert csv.startswith("id,mode,product,quantity_kg,price_fen_per_t") and "20000,6000" in csv
        assert "20000" in cir("market", "trades")

        maturity = (date.today() + timedelta(days=90)).isoformat()
        pledged = cir("pledge", "make", mkt.bank.public_id, "--from", world.owner_account, "--quantity-kg", "30000",
                      "--loan-reference", "BOS-LOAN-7", "--maturity", maturity, key=world.owner_key)
        pledge = pledged.split()[1].rstrip(":")
        assert pledge in cir("pledge", "list", "--party", world.owner.public_id)
        assert "released" in cir("pledge", "release", pledge, key=bank_key)


def test_refusals_over_http_are_problem_details_that_change_nothing(db: Database, signer: LogSigner,
                                                                    tmp_path: Path) -> None:
    mkt = make_market(db, factory_fen=1_000)
    world = mkt.base
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        owner = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {world.owner_key}"})
        factory = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {world.factory_key}"})
        expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        body = {"buyer": world.factory.public_id, "from_account": world.owner_account, "quantity_kg": 10_000,
                "price_fen_per_t": 5_000, "expires_at": expires}
        for bad, problem in (({"price_fen_per_t": 50.5}, "request-validation-failed"),
                             ({"quantity_kg": 0}, "request-validation-failed"),
                             ({"buyer": world.owner.public_id}, "invalid-request"),
                             ({"from_account": world.factory_account}, "not-account-holder")):
            answer = owner.post("/market/offers", json=body | bad)
            assert answer.status_code in (403, 409, 422) and answer.json()["type"].endswith(problem), answer.text
        offer = owner.post("/market/offers", json=body).json()
        assert offer["status"] == "open" and offer["amount_fen"] == 50_000
        poor = factory.post(f"/market/offers/{offer['id']}/acceptance", json={"to_account": world.factory_account})
        assert poor.status_code == 409 and poor.json()["type"].endswith("insufficient-cash")
        foreign = owner.post(f"/market/offers/{offer['id']}/acceptance", json={"to_account": world.owner_account})
        assert foreign.status_code == 403
        assert factory.get(f"/market/offers/{offer['id']}").json()["status"] == "open"
        assert factory.get("/cash-accounts/mine").json()["available_fen"] == 1_000
        beyond = factory.post("/cash/withdrawals", json={"amount_fen": 1_001})
        assert beyond.status_code == 409 and beyond.json()["type"].endswith("insufficient-cash")
        assert owner.post(f"/market/offers/{offer['id']}/withdrawal").json()["status"] == "withdrawn"
        assert httpx.get(f"{url}/api/v1/market/trades").json()["items"] == []
