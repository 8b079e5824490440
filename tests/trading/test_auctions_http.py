"""An auction through `cir` and the HTTP API against a live server: announced at Monday 10:00 on the
market clock, sealed bids, refusals as problem details that change nothing; then the same database
served with the clock after the close, where reading the auction clears it and publishes the
results."""

from __future__ import annotations

from datetime import timedelta
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
from tests.trading.book_world import MONDAY_10, make_book
from tests.trading.test_trading import snapshot

runner = CliRunner()


def cir(*args: str, key: str = "") -> str:
    result = runner.invoke(app, list(args), env={"CIR_API_KEY": key})
    assert result.exit_code == 0, result.output
    return result.output


def test_an_auction_through_the_cli_and_http(db: Database, signer: LogSigner, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bk = make_book(db)
    with db.write() as s:
        keys = {name: issue_api_key(s, bk.market.base.registrar, trader.party)[1]
                for name, trader in bk.traders.items()}
    a, b, c = bk.traders["a"], bk.traders["b"], bk.traders["c"]
    closes = (MONDAY_10 + timedelta(hours=1)).isoformat()

    def settings(clock_hours: int) -> Settings:
        return Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs",
                        market_clock=MONDAY_10 + timedelta(hours=clock_hours))

    with live_server(db, signer, settings(0)) as url:
        monkeypatch.setenv("CIR_URL", url)
        announced = cir("auction", "announce", "Suzhou household PV, 5 t", "--quantity-kg", "5000",
                        "--reserve-price-fen", "5000", "--closes-at", closes, "--from", a.account, "--product",
                        "SZ-PV-2025", key=keys["a"])
        auction = announced.split()[1]
        assert "(open)" in announced and "reserve 5,000 fen/t, uniform" in announced
        client = {name: httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"})
                  for name, key in keys.items()}
        assert "(sealed)" in cir("auction", "bid", auction, "3000", "--price", "5300", "--to", b.account,
                                 key=keys["b"])
        placed = client["c"].post(f"/auctions/{auction}/bids", json={
            "to_account": c.account, "quantity_kg": 3000, "price_fen_per_t": 5100})
        assert placed.status_code == 201 and placed.json()["status"] == "sealed"
        # Sealed: each bidder sees its own; the public sees no curve and no bidders yet.
        assert [bid["price_fen_per_t"] for bid in client["c"].get(f"/auctions/{auction}/bids").json()] == [5100]
        assert client["a"].get(f"/auctions/{auction}/bids").json() == []
        public = httpx.get(f"{url}/api/v1/auctions/{auction}").json()
        assert (public["status"], public["demand_curve"], public["bidders"]) == ("open", [], 0)

        before = snapshot(db)
        for body, status, problem in (
                ({"quantity_kg": 1000, "price_fen_per_t": 4900}, 422, "bid-below-reserve"),
                ({"quantity_kg": 1500, "price_fen_per_t": 5000}, 422, "quantity-off-lot"),
                ({"quantity_kg": 1000, "price_fen_per_t": 5005}, 422, "price-off-tick"),
                ({"quantity_kg": 1000, "price_fen_per_t": 5000, "to_account": a.account}, 403,
                 "not-account-holder"),
                ({"quantity_kg": 1000}, 422, "request-validation-failed")):
            answer = client["b"].post(f"/auctions/{auction}/bids", json={"to_account": b.account} | body)
            assert answer.status_code == status, answer.text
            assert answer.json()["type"].endswith(problem), answer.text
        early = client["b"].post(f"/auctions/{auction}/clearing")
        assert early.status_code == 409 and early.json()["type"].endswith("auction-still-open")
        assert client["b"].post("/auctions/auc_nope/bids", json={
            "to_account": b.account, "quantity_kg": 1000, "price_fen_per_t": 5000}).status_code == 404
        assert snapshot(db) == before

    with live_server(db, signer, settings(2)) as url:
        monkeypatch.setenv("CIR_URL", url)
        late = httpx.post(f"{url}/api/v1/auctions/{auction}/bids", json={
            "to_account": b.account, "quantity_kg": 1000, "price_fen_per_t": 5000},
            headers={"Authorization": f"Bearer {keys['b']}"})
        assert late.status_code == 409 and late.json()["type"].endswith("auction-not-open")
        # Reading it after the close clears it: b 3 t and c 2 of its 3 t, both at 5,100 (uniform).
        results = httpx.get(f"{url}/api/v1/auctions/{auction}").json()
        assert (results["status"], results["clearing_price_fen"], results["sold_kg"], results["bidders"],
                results["value_fen"]) == ("settled", 5100, 5000, 2, 25_500)
        assert results["demand_curve"] == [{"price_fen_per_t": 5300, "cumulative_kg": 3000},
                                           {"price_fen_per_t": 5100, "cumulative_kg": 6000}]
        shown = cir("auction", "show", auction)
        assert "sold 5,000 kg to 2 bidder(s) at 5,100 fen/t" in shown and "255.00 yuan" in shown
        assert "partly_won" in cir("auction", "bids", auction, key=keys["c"])
        tape = httpx.get(f"{url}/api/v1/market/trades", params={"mode": "auction"}).json()["items"]
        assert sorted(row["quantity_kg"] for row in tape) == [2000, 3000]
        again = httpx.post(f"{url}/api/v1/auctions/{auction}/clearing",
                           headers={"Authorization": f"Bearer {keys['a']}"})
        assert again.status_code == 409 and again.json()["type"].endswith("auction-not-open")
