"""The registrar, sellers, buyers and the public on the order book through `cir` and the HTTP API
against a live server whose market clock is Monday 10:00 in Shanghai: a product listed, orders
placed, amended and cancelled, trades with their serials, depth, candles, the tape; a halt; every
refusal a problem detail that changes nothing."""

from __future__ import annotations

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


def test_trading_a_product_on_the_book_through_the_cli_and_http(db: Database, signer: LogSigner, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bk = make_book(db)
    registrar = bk.market.base.registrar
    with db.write() as s:
        keys = {name: issue_api_key(s, registrar, trader.party)[1] for name, trader in bk.traders.items()}
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs",
                        market_fee_buyer_bp=30, market_fee_seller_bp=20, market_clock=MONDAY_10)
    a, c = bk.traders["a"], bk.traders["c"]
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        listed = cir("product", "add", "SZ-PV-HH", "--name", "Suzhou household PV", "--methodology", "CIR-PV-DG",
                     "--region", "CN-JS", "--vintage-from", "2025", "--lot-kg", "100", "--tick-fen", "10",
                     "--reference-price-fen", "6000", key=bk.market.base.registrar_key)
        assert "SZ-PV-HH Suzhou household PV (open)" in listed and "band 5,400–6,600 fen/t" in listed

        placed = cir("order", "place", "SZ-PV-HH", "sell", "2500", "--account", a.account, "--price", "6000",
                     "--tif", "gtc", key=keys["a"])
        sell = placed.split()[1]
        assert "(open)" in placed and "filled 0 kg" in placed
        buyer = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {keys['c']}"})
        bought = buyer.post("/market/products/SZ-PV-HH/orders", json={
            "side": "buy", "account": c.account, "quantity_kg": 1000, "price_fen_per_t": 6100,
            "time_in_force": "ioc"}).json()
        assert bought["order"]["status"] == "filled"
        [trade] = bought["trades"]
        assert (trade["product"], trade["quantity_kg"], trade["price_fen_per_t"], trade["amount_fen"]) == (
            "SZ-PV-HH", 1000, 6000, 6000)
        assert [(u["first_unit"], u["last_unit"]) for u in trade["units"]] == [(1, 1000)]
        assert trade["units"][0]["serial"].startswith("CN-JS:CIR-PV-DG:1.0:")

        depth = httpx.get(f"{url}/api/v1/market/products/SZ-PV-HH/book").json()
        assert depth["asks"] == [{"price_fen_per_t": 6000, "quantity_kg": 1500, "orders": 1}]
        assert depth["bids"] == [] and depth["last_price_fen"] == 6000
        assert "ask      6,000 fen/t        1,500 kg (1)" in cir("market", "book", "SZ-PV-HH")
        [candle] = httpx.get(f"{url}/api/v1/market/products/SZ-PV-HH/candles", params={"interval": "1d"}).json()
        assert (candle["day"], candle["close_fen"], candle["volume_kg"], candle["value_fen"]) == (
            "2026-12-07", 6000, 1000, 6000)
        csv = httpx.get(f"{url}/api/v1/market/products/SZ-PV-HH/candles", params={"format": "csv"}).text
        assert csv.splitlines() == ["day,open_fen,high_fen,low_fen,close_fen,volume_kg,value_fen,trades",
                                    "2026-12-07,6000,6000,6000,6000,1000,6000,1"]
        tape = httpx.get(f"{url}/api/v1/market/trades", params={"product": "SZ-PV-HH"}).json()["items"]
        assert [(row["product"], row["mode"], row["quantity_kg"]) for row in tape] == [("SZ-PV-HH", "book", 1000)]
        assert httpx.get(f"{url}/api/v1/market/products/SZ-PV-HH/vwap", params={
            "first_day": "2026-12-07", "last_day": "2026-12-07"}).json()["vwap_fen"] == 6000

        amended = cir("order", "amend", sell, "--quantity-kg", "2000", key=keys["a"])
        assert "filled 1,000 kg" in amended and "2,000 kg" in amended
        assert sell in cir("order", "list", "--product", "SZ-PV-HH", key=keys["a"])
        assert "is cancelled; filled 1,000 kg" in cir("order", "cancel", sell, key=keys["a"])

        halted = cir("product", "state", "SZ-PV-HH", "halted", "--reason", "price investigation",
                     key=bk.market.base.registrar_key)
        assert "(halted: price investigation)" in halted
        refused = runner.invoke(app, ["order", "place", "SZ-PV-HH", "buy", "100", "--account", c.account,
                                      "--price", "6000"], env={"CIR_API_KEY": keys["c"]})
        assert refused.exit_code == 1 and "only cancellations are accepted" in refused.output
        products = httpx.get(f"{url}/api/v1/market/products").json()
        assert [(p["code"], p["state"], p["in_session"]) for p in products] == [
            ("SZ-PV-2025", "open", True), ("SZ-PV-HH", "halted", True)]


def test_bad_orders_over_http_are_problem_details_that_change_nothing(db: Database, signer: LogSigner,
                                                                      tmp_path: Path) -> None:
    bk = make_book(db)
    registrar = bk.market.base.registrar
    with db.write() as s:
        keys = {name: issue_api_key(s, registrar, trader.party)[1] for name, trader in bk.traders.items()}
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs",
                        market_clock=MONDAY_10)
    a = bk.traders["a"]
    with live_server(db, signer, settings) as url:
        client = {name: httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"})
                  for name, key in keys.items()}
        resting = client["b"].post("/market/products/SZ-PV-2025/orders", json={
            "side": "sell", "account": bk.traders["b"].account, "quantity_kg": 1000, "price_fen_per_t": 5200,
            "time_in_force": "gtc"}).json()["order"]
        body = {"side": "sell", "account": a.account, "quantity_kg": 1000, "price_fen_per_t": 5000}
        before = snapshot(db)
        for path, bad, status, problem in (
                ("/market/products/NO-SUCH/orders", {}, 404, "unknown-product"),
                ("/market/products/SZ-PV-2025/orders", {"quantity_kg": 1500}, 422, "quantity-off-lot"),
                ("/market/products/SZ-PV-2025/orders", {"price_fen_per_t": 5005}, 422, "price-off-tick"),
                ("/market/products/SZ-PV-2025/orders", {"price_fen_per_t": 6000}, 422, "price-out-of-band"),
                ("/market/products/SZ-PV-2025/orders", {"price_fen_per_t": 50.5}, 422, "request-validation-failed"),
                ("/market/products/SZ-PV-2025/orders", {"time_in_force": "forever"}, 422,
                 "request-validation-failed"),
                ("/market/products/SZ-PV-2025/orders", {"account": bk.traders["b"].account}, 403,
                 "not-account-holder"),
                ("/market/products/SZ-PV-2025/orders", {"quantity_kg": 30_000}, 409, "insufficient-credits"),
                (f"/market/orders/{resting['id']}/cancellation", {}, 404, "unknown-order"),
                (f"/market/orders/{resting['id']}/amendment", {"price_fen_per_t": 5100}, 404, "unknown-order")):
            answer = client["a"].post(path, json=body | bad if "orders" in path and "/market/orders" not in path
                                      else bad)
            assert answer.status_code == status, (path, bad, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["type"].endswith(problem), answer.text
        assert snapshot(db) == before

        registrar_client = httpx.Client(base_url=f"{url}/api/v1",
                                        headers={"Authorization": f"Bearer {bk.market.base.registrar_key}"})
        refused = client["a"].post("/market/products", json={"code": "X-1", "name": "not a registrar"})
        assert refused.status_code == 403
        moved = registrar_client.post("/market/products/SZ-PV-2025/schedule",
                                      json={"sessions": "13:00-15:00", "weekdays": "12345"})
        assert moved.json()["in_session"] is False and moved.json()["next_open"].startswith("2026-12-07T13:00")
        before = snapshot(db)
        closed = client["a"].post("/market/products/SZ-PV-2025/orders", json=body)
        assert closed.status_code == 409 and closed.json()["type"].endswith("market-closed")
        assert "next session opens Mon 2026-12-07 13:00" in closed.json()["detail"]
        assert snapshot(db) == before
        # Cancels are accepted outside the sessions.
        assert client["b"].post(f"/market/orders/{resting['id']}/cancellation").json()["status"] == "cancelled"
