"""The exchange in the browser: anyone reads a product's book, trades, chart and daily prices, and
sees a trade appear while the session runs; a buyer's order crosses the book and settles, bad orders
are refused at their field and hold nothing; a seller amends and cancels; the registrar halts and
resumes a product and lists a new one."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in

PV = "SZ-PV-2025"


def api(site: Site, who: str) -> httpx.Client:
    return httpx.Client(base_url=f"{site.url}/api/v1", headers={"Authorization": f"Bearer {site.key(who)}"})


def held(site: Site, who: str) -> tuple[int, int]:
    mine = api(site, who).get("/cash-accounts/mine").json()
    return mine["available_fen"], mine["held_fen"]


def test_anyone_reads_a_products_book_and_sees_trades_arrive_while_the_session_runs(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/market")
    products = page.get_by_role("table", name="Products")
    expect(products).to_contain_text("Suzhou distributed PV 2025")
    expect(products).to_contain_text("WETLAND-REMOVALS")
    products.get_by_role("link", name=PV).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Suzhou distributed PV 2025")
    expect(page.get_by_role("img", name="Price and volume of the last trades")).to_be_visible()
    daily = page.get_by_role("table", name="Daily prices")
    expect(daily).to_contain_text(site.demo.market.trading_day)
    expect(daily).to_contain_text("60.60")  # the close: the demo day's VWAP
    book = page.get_by_role("table", name="Order book")
    expect(book).to_contain_text("61.50")
    # A trade made elsewhere (through the API) shows up on the open page by itself.
    placed = api(site, "factory").post(f"/market/products/{PV}/orders", json={
        "side": "buy", "account": site.demo.accounts["factory"], "quantity_kg": 300, "price_fen_per_t": 6150,
        "time_in_force": "ioc"}).json()
    assert placed["order"]["status"] == "filled", placed
    expect(page.get_by_role("table", name="Last trades").get_by_role("row").nth(1)).to_contain_text("0.300",
                                                                                                   timeout=10_000)


def test_a_buyer_crosses_the_book_and_bad_orders_are_refused_at_their_field(page: Page, site: Site) -> None:
    before = held(site, "precision")
    sign_in(page, site, "precision")
    page.goto(f"{site.url}/market/products/{PV}")
    form = page.locator(f"form[action='/market/products/{PV}/orders']")
    form.get_by_label("Buy or sell").select_option("buy")
    form.get_by_label("Account").select_option(site.demo.accounts["precision"])
    form.get_by_label("Quantity, t CO2e").fill("1.05")
    form.get_by_label("Limit price, yuan per tonne").fill("61.55")
    form.get_by_role("button", name="Place the order").click()
    expect(page.locator("#quantity-error")).to_contain_text("lots of 100 kg")
    assert held(site, "precision") == before
    form = page.locator(f"form[action='/market/products/{PV}/orders']")
    form.get_by_label("Quantity, t CO2e").fill("1.1")
    form.get_by_role("button", name="Place the order").click()
    expect(page.locator("#price-error")).to_contain_text("multiples of 10 fen")
    expect(page.locator("#quantity")).to_have_value("1.1")
    form = page.locator(f"form[action='/market/products/{PV}/orders']")
    form.get_by_label("Limit price, yuan per tonne").fill("70")
    form.get_by_role("button", name="Place the order").click()
    expect(page.locator("#price-error")).to_contain_text("outside today's band")
    assert held(site, "precision") == before

    form = page.locator(f"form[action='/market/products/{PV}/orders']")
    form.get_by_label("Limit price, yuan per tonne").fill("61.50")
    form.get_by_role("button", name="Place the order").click()
    placed = page.get_by_role("region", name=re.compile("Order ord_"))
    expect(placed).to_contain_text("filled")
    trades = placed.get_by_role("table", name="Its trades, settled")
    expect(trades).to_contain_text("61.50")
    expect(trades).to_contain_text("CN-JS:CIR-PV-DG:1.0:")
    available, holding = held(site, "precision")
    assert (available, holding) == (before[0] - 1_100 * 6_150 // 1000, before[1])


def test_a_seller_amends_and_cancels_an_order(page: Page, site: Site) -> None:
    sign_in(page, site, "pv_aggregator")
    page.goto(f"{site.url}/market/products/{PV}")
    form = page.locator(f"form[action='/market/products/{PV}/orders']")
    form.get_by_label("Buy or sell").select_option("sell")
    form.get_by_label("Account").select_option(site.demo.accounts["pv_aggregator"])
    form.get_by_label("Quantity, t CO2e").fill("2")
    form.get_by_label("Limit price, yuan per tonne").fill("66.00")
    form.get_by_label("The order stands").select_option("gtc")
    form.get_by_role("button", name="Place the order").click()
    expect(page.get_by_role("region", name=re.compile("Order ord_"))).to_contain_text("open")
    order = page.get_by_role("region", name=re.compile("Order ord_")).get_by_role("heading").inner_text().split()[1]
    order = order.rstrip(":")
    row = page.get_by_role("table", name="Open orders").get_by_role("row", name=re.compile(order))
    row.get_by_label("New price, yuan/t").fill("65.80")
    row.get_by_role("button", name="Amend").click()
    row = page.get_by_role("table", name="Open orders").get_by_role("row", name=re.compile(order))
    expect(row).to_contain_text("65.80")
    row.get_by_label("New total quantity, t").fill("0.05")
    row.get_by_role("button", name="Amend").click()
    expect(page.locator(f"#amend_{order}")).to_contain_text("lots of 100 kg")
    page.get_by_role("table", name="Open orders").get_by_role("row", name=re.compile(order)) \
        .get_by_role("button", name="Cancel the rest").click()
    expect(page.get_by_role("table", name="Filled, cancelled and expired").get_by_role(
        "row", name=re.compile(order))).to_contain_text("cancelled")
    found = api(site, "pv_aggregator").get(f"/market/orders/{order}").json()
    assert (found["status"], found["price_fen_per_t"], found["remaining_kg"]) == ("cancelled", 6580, 0)


def test_the_registrar_halts_and_resumes_a_product_and_lists_a_new_one(page: Page, site: Site) -> None:
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/market/products/WETLAND-REMOVALS")
    controls = page.get_by_role("region", name="Registrar's controls")
    controls.get_by_label("Reason").fill("Verification of the 2025 sink under review")
    controls.get_by_role("button", name="Halt trading").click()
    expect(page.locator(".facts")).to_contain_text("Verification of the 2025 sink under review")
    refused = api(site, "factory").post("/market/products/WETLAND-REMOVALS/orders", json={
        "side": "buy", "account": site.demo.accounts["factory"], "quantity_kg": 1000, "price_fen_per_t": 8600})
    assert refused.status_code == 409 and "only cancellations" in refused.json()["detail"]
    page.get_by_role("region", name="Registrar's controls").get_by_role("button", name="Resume trading").click()
    expect(page.locator(".facts")).to_contain_text("open for trading")

    page.goto(f"{site.url}/market")
    page.get_by_role("link", name="List a product").click()
    page.get_by_label("Code").fill("sz ev")
    page.get_by_label("Name", exact=True).fill("Suzhou EV charging 2025")
    page.get_by_role("button", name="List the product").click()
    expect(page.locator("#code-error")).to_contain_text("capital letters")
    page.get_by_label("Code").fill("SZ-EV-2025")
    page.get_by_label("Methodologies").fill("CIR-EV-CHG")
    page.get_by_label("Regions of origin").fill("CN-JS")
    page.get_by_label("Reference price, yuan per tonne (optional)").fill("55")
    page.get_by_role("button", name="List the product").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SZ-EV-2025")
    listed = httpx.get(f"{site.url}/api/v1/market/products/SZ-EV-2025").json()
    assert (listed["methodology_ids"], listed["regions"], listed["lot_kg"], listed["tick_fen"],
            listed["band"]["reference_fen"]) == (["CIR-EV-CHG"], ["CN-JS"], 1000, 1, 5500)
