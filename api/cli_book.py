"""`cir product|order …` and the market-data commands of `cir market`: standard products and their
controls (registrar), orders on the book, depth, candles and VWAP (anyone)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli_roles import DEFAULT_URL, ApiKey, Url, _call, _table
from api.cli_trading import _yuan, market_app

product_app = typer.Typer(help="Standard products (registrar): list one, halt, resume, close, set its sessions",
                          no_args_is_help=True)
order_app = typer.Typer(help="Orders on a product's book (挂牌): place, amend, cancel, list yours",
                        no_args_is_help=True)


def _print_product(product: dict[str, Any]) -> None:
    band = product["band"]
    typer.echo(f"{product['code']} {product['name']} ({product['state']}"
               + (f": {product['state_reason']}" if product["state_reason"] else "") + "): "
               f"{', '.join(product['methodology_ids'])}; lot {product['lot_kg']:,} kg, tick {product['tick_fen']} "
               f"fen/t; sessions {product['sessions']} ({product['timezone']}, weekdays {product['weekdays']}); "
               + (f"band {band['low_fen']:,}–{band['high_fen']:,} fen/t" if band else "no band yet"))


@product_app.command("add")
def product_new(
    code: str,
    name: Annotated[str, typer.Option()],
    methodology: Annotated[list[str] | None, typer.Option(help="Admitted methodology (repeat); none: any")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Region the credits come from (repeat); none: any")] = None,
    vintage_from: int | None = None,
    vintage_to: int | None = None,
    credit_kind: Annotated[str, typer.Option(help="any, reductions or removals")] = "any",
    lot_kg: int = 1000,
    tick_fen: int = 1,
    band_pct: int = 10,
    reference_price_fen: Annotated[int | None, typer.Option(help="The first day's band is drawn around it")] = None,
    sessions: str = "09:30-11:30,13:00-15:00",
    weekdays: str = "12345",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """List a new standard product (registrar)."""
    _print_product(_call(url, api_key, lambda c: c.list_product(
        code, name, methodology_ids=methodology or [], regions=region or [], vintage_from=vintage_from,
        vintage_to=vintage_to, credit_kind=credit_kind, lot_kg=lot_kg, tick_fen=tick_fen, band_pct=band_pct,
        reference_price_fen=reference_price_fen, sessions=sessions, weekdays=weekdays)))


@product_app.command("show")
def product_show(code: str, url: Url = DEFAULT_URL) -> None:
    """A product's rules, state and today's band."""
    _print_product(_call(url, None, lambda c: c.product(code)))


@product_app.command("state")
def product_state(code: str, state: Annotated[str, typer.Argument(help="open, halted or closed")], reason: str = "",
                  url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Halt, resume or close a product (registrar); closing cancels its open orders."""
    _print_product(_call(url, api_key, lambda c: c.set_product_state(code, state, reason)))


@product_app.command("schedule")
def product_schedule(code: str, sessions: Annotated[str, typer.Option(help="e.g. 09:30-11:30,13:00-15:00")],
                     weekdays: Annotated[str, typer.Option(help="ISO weekdays, e.g. 12345")] = "12345",
                     url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Set a product's trading sessions (registrar)."""
    _print_product(_call(url, api_key, lambda c: c.set_product_schedule(code, sessions, weekdays)))


def _print_placed(placed: dict[str, Any]) -> None:
    order = placed["order"]
    typer.echo(f"order {order['id']} ({order['status']}"
               + (f": {order['status_reason']}" if order["status_reason"] else "") + f"): {order['side']} "
               f"{order['quantity_kg']:,} kg of {order['product']} at {order['price_fen_per_t']:,} fen/t "
               f"({order['kind']}, {order['time_in_force']}); filled {order['filled_kg']:,} kg")
    for trade in placed["trades"]:
        typer.echo(f"  trade {trade['id']}: {trade['quantity_kg']:,} kg at {trade['price_fen_per_t']:,} fen/t = "
                   f"{_yuan(trade['amount_fen'])}; serials "
                   + ", ".join(units["serial"] for units in trade["units"]))


@order_app.command("place")
def order_place(
    product: str,
    side: Annotated[str, typer.Argument(help="buy or sell")],
    quantity_kg: int,
    account: Annotated[str, typer.Option(help="Sell: from this holding account; buy: to it")],
    price_fen_per_t: Annotated[int | None, typer.Option("--price", help="Fen per tonne; omit for a market order")]
    = None,
    time_in_force: Annotated[str, typer.Option("--tif", help="day, gtc, ioc or fok")] = "day",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Place an order: what crosses trades at once; the rest rests (day, gtc) or is cancelled (ioc, fok)."""
    _print_placed(_call(url, api_key, lambda c: c.place_order(product, side, account, quantity_kg, price_fen_per_t,
                                                              time_in_force)))


@order_app.command("list")
def order_list(product: str | None = None, status: str | None = None, url: Url = DEFAULT_URL,
               api_key: ApiKey = "") -> None:
    """Your orders, newest first."""
    found = _call(url, api_key, lambda c: c.orders(product=product, status=status, limit=500))
    _table(found["items"], ["id", "product", "side", "price_fen_per_t", "quantity_kg", "filled_kg", "status",
                            "time_in_force", "trading_day"])


@order_app.command("amend")
def order_amend(order: str, price_fen_per_t: Annotated[int | None, typer.Option("--price")] = None,
                quantity_kg: Annotated[int | None, typer.Option("--quantity-kg", help="The new total")] = None,
                url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Change an open order's price or quantity (a new price or more quantity loses its place)."""
    _print_placed(_call(url, api_key, lambda c: c.amend_order(order, price_fen_per_t, quantity_kg)))


@order_app.command("cancel")
def order_cancel(order: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Cancel the rest of your open order."""
    cancelled = _call(url, api_key, lambda c: c.cancel_order(order))
    typer.echo(f"order {cancelled['id']} is {cancelled['status']}; filled {cancelled['filled_kg']:,} kg")


@market_app.command("products")
def market_products(url: Url = DEFAULT_URL) -> None:
    """Every product with its state, band and last price."""
    rows = [{**p, "band": f"{p['band']['low_fen']}–{p['band']['high_fen']}" if p["band"] else ""}
            for p in _call(url, None, lambda c: c.products())]
    _table(rows, ["code", "name", "state", "in_session", "lot_kg", "tick_fen", "band", "last_price_fen"])


@market_app.command("book")
def market_book(product: str, url: Url = DEFAULT_URL) -> None:
    """Depth: the best five levels each side."""
    found = _call(url, None, lambda c: c.book(product))
    typer.echo(f"{product} ({found['state']}), last {found['last_price_fen'] or '—'} fen/t")
    for ask in reversed(found["asks"]):
        typer.echo(f"  ask {ask['price_fen_per_t']:>10,} fen/t {ask['quantity_kg']:>12,} kg ({ask['orders']})")
    for bid in found["bids"]:
        typer.echo(f"  bid {bid['price_fen_per_t']:>10,} fen/t {bid['quantity_kg']:>12,} kg ({bid['orders']})")


@market_app.command("candles")
def market_candles(product: str, since: str | None = None, url: Url = DEFAULT_URL) -> None:
    """Daily open, high, low, close (VWAP), volume and value."""
    _table(_call(url, None, lambda c: c.candles(product, since=since)),
           ["day", "open_fen", "high_fen", "low_fen", "close_fen", "volume_kg", "value_fen", "trades"])


auction_app = typer.Typer(help="One-sided auctions (单向竞价): announce a lot, bid sealed, see the results",
                          no_args_is_help=True)


def _print_auction(auction: dict[str, Any]) -> None:
    typer.echo(f"auction {auction['id']} ({auction['status']}): {auction['title']}; {auction['quantity_kg']:,} kg"
               + (f" of {auction['product']}" if auction["product"] else "")
               + f", reserve {auction['reserve_price_fen']:,} fen/t, {auction['rule']}, bids "
               f"{auction['opens_at']} – {auction['closes_at']}")
    if auction["status"] != "open":
        typer.echo(f"  sold {auction['sold_kg']:,} kg to {auction['bidders']} bidder(s) at "
                   f"{auction['clearing_price_fen'] or 0:,} fen/t (lowest accepted) for {_yuan(auction['value_fen'])}")
        for point in auction["demand_curve"]:
            typer.echo(f"  demand at {point['price_fen_per_t']:>8,} fen/t or more: {point['cumulative_kg']:>10,} kg")


@auction_app.command("announce")
def auction_announce(
    title: str,
    quantity_kg: Annotated[int, typer.Option()],
    reserve_price_fen: Annotated[int, typer.Option(help="Fen per tonne; bids below are refused")],
    closes_at: Annotated[str, typer.Option(help="ISO time, within 30 days")],
    account: Annotated[str | None, typer.Option("--from", help="Your holding account")] = None,
    product: Annotated[str | None, typer.Option(help="Sell this product's qualifying credits")] = None,
    rule: Annotated[str, typer.Option(help="uniform or pay_as_bid")] = "uniform",
    min_bid_kg: int | None = None,
    pledge: Annotated[str | None, typer.Option(help="A pledgee: auction this matured pledge")] = None,
    secured_amount_fen: Annotated[int | None, typer.Option(help="With --pledge: paid to you first")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Announce an auction: the lot is locked, bids are sealed until the close."""
    _print_auction(_call(url, api_key, lambda c: c.announce_auction(
        title, quantity_kg, reserve_price_fen, closes_at, from_account=account, product=product, rule=rule,
        min_bid_kg=min_bid_kg, pledge=pledge, secured_amount_fen=secured_amount_fen)))


@auction_app.command("list")
def auction_list(status: str | None = None, url: Url = DEFAULT_URL) -> None:
    """Auctions, newest first."""
    found = _call(url, None, lambda c: c.auctions(status=status, limit=500))
    _table(found["items"], ["id", "status", "title", "quantity_kg", "reserve_price_fen", "rule", "closes_at",
                            "clearing_price_fen", "sold_kg", "bidders"])


@auction_app.command("show")
def auction_show(auction: str, url: Url = DEFAULT_URL) -> None:
    """An auction's terms; after the close its results and the demand curve."""
    _print_auction(_call(url, None, lambda c: c.auction(auction)))


@auction_app.command("bid")
def auction_bid(auction: str, quantity_kg: int, price_fen_per_t: Annotated[int, typer.Option("--price")],
                account: Annotated[str, typer.Option("--to", help="Your receiving holding account")],
                url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Place a sealed bid: its cash is held until the close."""
    placed = _call(url, api_key, lambda c: c.bid(auction, account, quantity_kg, price_fen_per_t))
    typer.echo(f"bid {placed['id']} ({placed['status']}): {placed['quantity_kg']:,} kg at "
               f"{placed['price_fen_per_t']:,} fen/t")


@auction_app.command("bids")
def auction_bids(auction: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your own bids in an auction."""
    _table(_call(url, api_key, lambda c: c.my_bids(auction)),
           ["id", "status", "quantity_kg", "price_fen_per_t", "allocated_kg", "created_at"])


@auction_app.command("clear")
def auction_clear(auction: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Clear an auction whose window has closed."""
    _print_auction(_call(url, api_key, lambda c: c.clear_auction(auction)))
