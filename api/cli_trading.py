"""`cir cash|offer|market|pledge …`: market cash and the settlement bank's confirmations, bilateral
offers and their acceptance, the public tape, and pledges."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from api.cli_roles import DEFAULT_URL, ApiKey, Url, _call, _table

cash_app = typer.Typer(help="Market cash: your account, deposits and withdrawals (the settlement bank confirms)",
                       no_args_is_help=True)
offer_app = typer.Typer(help="Bilateral trades (协议转让): offer credits to a named buyer; accept, reject, withdraw",
                        no_args_is_help=True)
market_app = typer.Typer(help="Anyone: the public tape of trades", no_args_is_help=True)
pledge_app = typer.Typer(help="Pledges (质押): pledge credits to a bank; the bank releases or enforces",
                         no_args_is_help=True)


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} yuan"


def _print_cash(account: dict[str, Any]) -> None:
    typer.echo(f"cash account {account['id']}: {_yuan(account['available_fen'])} free, "
               f"{_yuan(account['held_fen'])} held")


@cash_app.command("open")
def cash_open(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Open your market cash account."""
    _print_cash(_call(url, api_key, lambda c: c.open_cash_account()))


@cash_app.command("show")
def cash_show(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your cash account's balances."""
    _print_cash(_call(url, api_key, lambda c: c.my_cash_account()))


@cash_app.command("close")
def cash_close(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Close your cash account once it holds nothing."""
    typer.echo(f"cash account {_call(url, api_key, lambda c: c.close_cash_account())['id']} is closed")


@cash_app.command("statement")
def cash_statement(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Every journal line of your cash account, newest first."""
    account = _call(url, api_key, lambda c: c.my_cash_account())
    _table(_call(url, api_key, lambda c: c.cash_statement(account["id"])),
           ["at", "kind", "reference", "bucket", "amount_fen", "bank_reference"])


@cash_app.command("deposit")
def cash_deposit(account: str, amount_fen: int, bank_reference: Annotated[str, typer.Option()],
                 url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Confirm a deposit received (the settlement bank), with its reference."""
    entry = _call(url, api_key, lambda c: c.confirm_deposit(account, amount_fen, bank_reference))
    typer.echo(f"deposit {entry['id']} of {_yuan(amount_fen)} to {account} ({bank_reference})")


@cash_app.command("withdraw")
def cash_withdraw(amount_fen: int, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Ask for free cash to be paid out: it is held until the bank pays."""
    withdrawal = _call(url, api_key, lambda c: c.request_withdrawal(amount_fen))
    typer.echo(f"withdrawal {withdrawal['id']} of {_yuan(amount_fen)} is {withdrawal['status']}")


@cash_app.command("withdrawals")
def cash_withdrawals(status: str | None = None, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your withdrawals; for the bank, every one (its queue: --status requested)."""
    found = _call(url, api_key, lambda c: c.withdrawals(status=status, limit=500))
    _table(found["items"], ["id", "account", "amount_fen", "status", "bank_reference", "requested_at"])


@cash_app.command("pay")
def cash_pay(withdrawal: str, bank_reference: Annotated[str, typer.Option()], url: Url = DEFAULT_URL,
             api_key: ApiKey = "") -> None:
    """Confirm a withdrawal paid out (the settlement bank)."""
    paid = _call(url, api_key, lambda c: c.pay_withdrawal(withdrawal, bank_reference))
    typer.echo(f"{withdrawal} is {paid['status']}")


@cash_app.command("cancel")
def cash_cancel(withdrawal: str, reason: str = "", url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Cancel a withdrawal not paid yet (its holder, or the bank declining it)."""
    typer.echo(f"{withdrawal} is {_call(url, api_key, lambda c: c.cancel_withdrawal(withdrawal, reason))['status']}")


def _print_offer(offer: dict[str, Any]) -> None:
    typer.echo(f"offer {offer['id']} ({offer['status']}): {offer['quantity_kg']:,} kg from {offer['seller_name']} to "
               f"{offer['buyer_name']} at {offer['price_fen_per_t']:,} fen/t = {_yuan(offer['amount_fen'])}, "
               f"expires {offer['expires_at']}" + (f"; trade {offer['trade']}" if offer["trade"] else ""))


@offer_app.command("make")
def offer_make(
    buyer: str,
    account: Annotated[str, typer.Option("--from", help="Your holding account")],
    price_fen_per_t: Annotated[int, typer.Option(help="Fen per tonne CO2e")],
    expires_at: Annotated[str, typer.Option(help="ISO time, e.g. 2026-12-31T16:00:00Z (within 90 days)")],
    quantity_kg: Annotated[int | None, typer.Option(help="Oldest vintage first")] = None,
    issuance: Annotated[str | None, typer.Option(help="With --first/--last: an exact serial range")] = None,
    first: int | None = None,
    last: int | None = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Offer credits to a named buyer: they are locked until the offer is decided."""
    serial_range = {"issuance": issuance, "first_unit": first, "last_unit": last} if issuance else None
    _print_offer(_call(url, api_key, lambda c: c.make_offer(buyer, account, price_fen_per_t, expires_at, quantity_kg,
                                                            serial_range)))


@offer_app.command("list")
def offer_list(role: Annotated[str | None, typer.Option(help="seller or buyer (your inbox)")] = None,
               status: str | None = None, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Your offers, as seller, buyer or both."""
    found = _call(url, api_key, lambda c: c.offers(role=role, status=status, limit=500))
    _table(found["items"], ["id", "status", "seller_name", "buyer_name", "quantity_kg", "price_fen_per_t",
                            "amount_fen", "expires_at"])


@offer_app.command("accept")
def offer_accept(offer: str, account: Annotated[str, typer.Option("--to", help="Your receiving holding account")],
                 url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Accept an offer made to you: credits and cash move at once."""
    trade = _call(url, api_key, lambda c: c.accept_offer(offer, account))
    typer.echo(f"trade {trade['id']}: {trade['quantity_kg']:,} kg at {trade['price_fen_per_t']:,} fen/t, paid "
               f"{_yuan(trade['amount_fen'] + trade['buyer_fee_fen'])} (fee {_yuan(trade['buyer_fee_fen'])}); "
               f"ledger entry {trade['ledger_entry']}" + ("; cross-regional" if trade["cross_regional"] else ""))


@offer_app.command("reject")
def offer_reject(offer: str, reason: str = "", url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Reject an offer made to you."""
    _print_offer(_call(url, api_key, lambda c: c.reject_offer(offer, reason)))


@offer_app.command("withdraw")
def offer_withdraw(offer: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Withdraw your offer before it is accepted."""
    _print_offer(_call(url, api_key, lambda c: c.withdraw_offer(offer)))


@market_app.command("trades")
def market_trades(methodology: str | None = None, region: str | None = None, product: str | None = None,
                  url: Url = DEFAULT_URL) -> None:
    """The public tape: every trade, without the parties."""
    found = _call(url, None, lambda c: c.trades(methodology=methodology, region=region, product=product, limit=500))
    _table(found["items"], ["executed_at", "id", "mode", "product", "quantity_kg", "price_fen_per_t", "methodology",
                            "vintage", "region", "cross_regional"])


@pledge_app.command("make")
def pledge_make(
    pledgee: str,
    account: Annotated[str, typer.Option("--from", help="Your holding account")],
    quantity_kg: Annotated[int, typer.Option()],
    loan_reference: Annotated[str, typer.Option(help="The bank's loan reference")],
    maturity: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Pledge credits to a bank for a loan: they are locked under the pledge."""
    pledge = _call(url, api_key, lambda c: c.pledge(pledgee, account, loan_reference, maturity, quantity_kg))
    typer.echo(f"pledge {pledge['id']}: {pledge['quantity_kg']:,} kg to {pledge['pledgee']} until {pledge['maturity']}")


@pledge_app.command("list")
def pledge_list(party: str | None = None, status: str | None = None, url: Url = DEFAULT_URL) -> None:
    """Pledges on credits (public)."""
    found = _call(url, None, lambda c: c.pledges(party=party, status=status, limit=500))
    _table(found["items"], ["id", "status", "holder", "pledgee", "quantity_kg", "loan_reference", "maturity"])


@pledge_app.command("release")
def pledge_release(pledge: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Release a pledge (its pledgee)."""
    typer.echo(f"{pledge} is {_call(url, api_key, lambda c: c.release_pledge(pledge))['status']}")


@pledge_app.command("enforce")
def pledge_enforce(pledge: str, account: Annotated[str, typer.Option("--to", help="Your holding account")],
                   url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Enforce a matured pledge (its pledgee): the credits come to your account."""
    typer.echo(f"{pledge} is {_call(url, api_key, lambda c: c.enforce_pledge(pledge, account))['status']}")
