"""A small Python client for the registry's HTTP API; the `cir` role commands use it.

    client = RegistryClient("http://127.0.0.1:8000", api_key="cir_…")
    sha256 = client.upload(Path("meter-2025.csv"))

Errors come back as `RegistryAPIError`, carrying the problem details the API returned; a registry
that cannot be reached raises `httpx.HTTPError` (the CLI turns both into one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

Json = dict[str, Any]


class RegistryAPIError(Exception):
    def __init__(self, status: int, problem: Json) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("errors") or ""
        super().__init__(f"{status} {problem.get('title', 'error')} {detail}".strip())


def _params(**filters: Any) -> dict[str, Any]:
    """Query parameters without the unset ones (the API refuses parameters it does not know)."""
    return {name: value for name, value in filters.items() if value is not None and value is not False}


class RegistryClient:
    def __init__(self, base_url: str, api_key: str | None = None, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, transport=transport,
                                 timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"/api/v1{path}", **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            if not isinstance(problem, dict):
                problem = {"title": response.reason_phrase}
            raise RegistryAPIError(response.status_code, problem)
        if response.status_code == 204:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    # --- anyone (no key needed) ---

    def log_key(self) -> str:
        return str(self.request("GET", "/log/key")).strip()

    def entry_proof(self, entry_id: int) -> Json:
        return self.request("GET", f"/ledger-entries/{entry_id}/proof")

    def retirement_proof(self, retirement: str) -> Json:
        return self.request("GET", f"/retirements/{retirement}/proof")

    def projects(self, **filters: Any) -> Json:
        return self.request("GET", "/projects", params=_params(**filters))

    def issuances(self, **filters: Any) -> Json:
        return self.request("GET", "/issuances", params=_params(**filters))

    def retirements(self, **filters: Any) -> Json:
        return self.request("GET", "/retirements", params=_params(**filters))

    def blocks(self, **filters: Any) -> Json:
        return self.request("GET", "/blocks", params=_params(**filters))

    def export_csv(self, listing: str, **filters: Any) -> str:
        """Every row of a public list (projects, issuances, retirements, blocks) as CSV text."""
        return str(self.request("GET", f"/{listing}", params=_params(format="csv", **filters)))

    def stats(self) -> Json:
        return self.request("GET", "/stats")

    def party(self, party: str) -> Json:
        return self.request("GET", f"/parties/{party}")

    def verifiers(self) -> list[Json]:
        return self.request("GET", "/verifiers")

    def issuance_statement(self, issuance: str) -> Json:
        return self.request("GET", f"/issuances/{issuance}/statement")

    def apply(self, application: Json) -> Json:
        """Apply for an account: returns the reference (`id`) and the claim code, shown once."""
        return self.request("POST", "/applications", json=application)

    def claim(self, application: str, claim_code: str) -> Json:
        """The API key of an approved application, once: {party, prefix, api_key}."""
        return self.request("POST", f"/applications/{application}/claim", json={"claim_code": claim_code})

    # --- every party with a key ---

    def me(self) -> Json:
        return self.request("GET", "/parties/me")

    def balances(self, account: str, group_by: str | None = None) -> list[Json]:
        return self.request("GET", f"/accounts/{account}/balances", params=_params(group_by=group_by))

    def history(self, account: str, cursor: str | None = None, limit: int = 50) -> Json:
        return self.request("GET", f"/accounts/{account}/history", params=_params(cursor=cursor, limit=limit))

    def open_account(self, name: str) -> Json:
        return self.request("POST", "/accounts", json={"name": name})

    def transfer(self, from_account: str, to_account: str, quantity_kg: int | None = None,
                 serial_range: Json | None = None, idempotency_key: str | None = None, **narrow: Any) -> Json:
        """Oldest first (`quantity_kg`, optionally narrowed by project, vintage, methodology_id) or an
        exact `serial_range` ({issuance, first_unit, last_unit})."""
        body = {"from_account": from_account, "to_account": to_account, "quantity_kg": quantity_kg,
                "serial_range": serial_range, **narrow}
        return self.request("POST", "/transfers", json=_params(**body), headers=_idempotency(idempotency_key))

    def transfer_batch(self, transfers: list[Json], idempotency_key: str | None = None,
                       issuance: str | None = None) -> Json:
        """Up to 10,000 transfers ({from_account, to_account, quantity_kg}, oldest units first), all or none;
        with `issuance`, units of that issuance only."""
        return self.request("POST", "/transfers/batch", json=_params(transfers=transfers, issuance=issuance),
                            headers=_idempotency(idempotency_key))

    def retire_batch(self, retirements: list[Json], idempotency_key: str | None = None) -> Json:
        """Up to 10,000 retirements ({from_account, quantity_kg, beneficiary_name, beneficiary_type, purpose,
        claim_period_start, claim_period_end, public_note}, oldest units first), all or none."""
        return self.request("POST", "/retirements/batch", json={"retirements": retirements},
                            headers=_idempotency(idempotency_key))

    def retire(self, from_account: str, beneficiary_name: str, beneficiary_type: str, purpose: str,
               claim_period_start: str, claim_period_end: str, quantity_kg: int | None = None,
               serial_range: Json | None = None, public_note: str = "", idempotency_key: str | None = None,
               **narrow: Any) -> Json:
        body = {"from_account": from_account, "beneficiary_name": beneficiary_name,
                "beneficiary_type": beneficiary_type, "purpose": purpose, "claim_period_start": claim_period_start,
                "claim_period_end": claim_period_end, "quantity_kg": quantity_kg, "serial_range": serial_range,
                "public_note": public_note, **narrow}
        return self.request("POST", "/retirements", json=_params(**body), headers=_idempotency(idempotency_key))

    def upload(self, path: Path) -> str:
        """Stream a file to the registry; returns its SHA-256, by which reports and documents cite it."""
        with path.open("rb") as f:
            return str(self.request("PUT", "/uploads", content=f)["sha256"])

    # --- the registrar ---

    def create_party(self, name: str, kind: str, roles: list[str], region: str | None = None) -> Json:
        return self.request("POST", "/parties", json=_params(name=name, kind=kind, roles=roles, region=region))

    def create_api_key(self, party: str, label: str = "") -> str:
        return str(self.request("POST", f"/parties/{party}/api-keys", json={"label": label})["api_key"])

    def parties(self, **filters: Any) -> Json:
        return self.request("GET", "/parties", params=_params(**filters))

    def suspend_party(self, party: str, reason: str) -> Json:
        return self.request("POST", f"/parties/{party}/suspension", json={"reason": reason})

    def reactivate_party(self, party: str, reason: str) -> Json:
        return self.request("POST", f"/parties/{party}/reactivation", json={"reason": reason})

    def accredit(self, party: str, public_key_pem: str, methodologies: list[str], regions: list[str],
                 valid_from: str, valid_until: str) -> Json:
        body = {"party": party, "public_key_pem": public_key_pem, "methodologies": methodologies,
                "regions": regions, "valid_from": valid_from, "valid_until": valid_until}
        return self.request("POST", "/verifiers", json=body)

    def set_accreditation_status(self, accreditation: str, action: str, reason: str) -> Json:
        """`action`: suspension, reinstatement or revocation."""
        return self.request("POST", f"/verifiers/{accreditation}/{action}", json={"reason": reason})

    def applications(self, **filters: Any) -> Json:
        return self.request("GET", "/applications", params=_params(**filters))

    def application(self, application: str) -> Json:
        return self.request("GET", f"/applications/{application}")

    def approve_application(self, application: str) -> Json:
        return self.request("POST", f"/applications/{application}/approval")

    def reject_application(self, application: str, reason: str) -> Json:
        return self.request("POST", f"/applications/{application}/rejection", json={"reason": reason})

    # --- project owners ---

    def create_project(self, project: Json) -> Json:
        return self.request("POST", "/projects", json=project)

    def project(self, project: str) -> Json:
        return self.request("GET", f"/projects/{project}")

    def set_project_status(self, project: str, status: str, note: str = "") -> Json:
        return self.request("POST", f"/projects/{project}/status", json={"status": status, "note": note})

    def file_document(self, project: str, path: Path, title: str, kind: str = "other") -> list[Json]:
        body = {"title": title, "filename": path.name, "sha256": self.upload(path), "kind": kind}
        return self.request("POST", f"/projects/{project}/documents", json=body)

    def create_report(self, project: str, data: Path, params: Json, period_start: str, period_end: str,
                      issue_to_account: str) -> Json:
        body = {"period_start": period_start, "period_end": period_end, "data_sha256": self.upload(data),
                "data_filename": data.name, "params": params, "issue_to_account": issue_to_account}
        return self.request("POST", f"/projects/{project}/reports", json=body)

    def replace_report_data(self, report: str, data: Path, params: Json) -> Json:
        body = {"data_sha256": self.upload(data), "data_filename": data.name, "params": params}
        return self.request("PUT", f"/reports/{report}/data", json=body)

    def report(self, report: str) -> Json:
        return self.request("GET", f"/reports/{report}")

    def reports(self, **filters: Any) -> Json:
        """Reports you may see; a verifier's queue is `waiting=True` and `assigned="me"`."""
        return self.request("GET", "/reports", params=_params(**filters))

    def report_trail(self, report: str) -> list[Json]:
        return self.request("GET", f"/reports/{report}/trail")

    def submit_report(self, report: str) -> Json:
        return self.request("POST", f"/reports/{report}/submit")

    def comment(self, report: str, note: str) -> None:
        self.request("POST", f"/reports/{report}/comments", json={"note": note})

    # --- verifiers ---

    def start_verification(self, report: str) -> Json:
        return self.request("POST", f"/reports/{report}/verification")

    def statement_template(self, report: str) -> Json:
        return self.request("GET", f"/reports/{report}/statement-template")

    def approve(self, report: str, statement: Json, signature: str) -> Json:
        body = {"statement": statement, "signature": signature}
        return self.request("POST", f"/reports/{report}/approval", json=body)

    def request_changes(self, report: str, note: str) -> Json:
        return self.request("POST", f"/reports/{report}/changes-requested", json={"note": note})

    def reject(self, report: str, note: str) -> Json:
        return self.request("POST", f"/reports/{report}/rejection", json={"note": note})

    # --- net zero: factories ---

    def register_facility(self, name: str, region: str, address: str, industry: str, boundary: str) -> Json:
        body = {"name": name, "region": region, "address": address, "industry": industry, "boundary": boundary}
        return self.request("POST", "/facilities", json=body)

    def facilities(self) -> list[Json]:
        return self.request("GET", "/facilities")

    def file_inventory(self, facility: str, data: Path, period_start: str, period_end: str) -> Json:
        """Upload the activity data (CSV or XLSX) and file it: the next version for the facility and period."""
        body = {"period_start": period_start, "period_end": period_end, "data_sha256": self.upload(data),
                "data_filename": data.name}
        return self.request("POST", f"/facilities/{facility}/inventories", json=body)

    def inventory(self, inventory: str) -> Json:
        return self.request("GET", f"/inventories/{inventory}")

    def inventories(self, **filters: Any) -> Json:
        """Inventories you may see; a verifier's queue is `waiting=True`."""
        return self.request("GET", "/inventories", params=_params(**filters))

    def open_net_zero_claim(self, facility: str, period_start: str) -> Json:
        return self.request("POST", "/claims", json={"facility": facility, "period_start": period_start})

    def net_zero_claims(self) -> list[Json]:
        return self.request("GET", "/claims")

    def net_zero_claim(self, claim: str) -> Json:
        return self.request("GET", f"/claims/{claim}")

    def retire_for_claim(self, claim: str, from_account: str, quantity_kg: int | None = None,
                         serial_range: Json | None = None, public_note: str = "", idempotency_key: str | None = None,
                         **narrow: Any) -> Json:
        body = {"from_account": from_account, "quantity_kg": quantity_kg, "serial_range": serial_range,
                "public_note": public_note, **narrow}
        return self.request("POST", f"/claims/{claim}/retirements", json=_params(**body),
                            headers=_idempotency(idempotency_key))

    def attach_retirement(self, claim: str, retirement: str) -> Json:
        return self.request("POST", f"/claims/{claim}/attached-retirements", json={"retirement": retirement})

    def certify_claim(self, claim: str) -> Json:
        return self.request("POST", f"/claims/{claim}/certificate")

    # --- net zero: certificates (public) and the verifier's and registrar's steps ---

    def certificates(self, **filters: Any) -> Json:
        return self.request("GET", "/certificates", params=_params(**filters))

    def certificate(self, certificate: str) -> Json:
        return self.request("GET", f"/certificates/{certificate}")

    def certificate_proof(self, certificate: str) -> Json:
        return self.request("GET", f"/certificates/{certificate}/proof")

    def certificate_pdf(self, certificate: str) -> bytes:
        response = self.http.get(f"/api/v1/certificates/{certificate}/pdf")
        if response.status_code >= 400:
            raise RegistryAPIError(response.status_code, response.json())
        return response.content

    def revoke_certificate(self, certificate: str, reason: str) -> Json:
        return self.request("POST", f"/certificates/{certificate}/revocation", json={"reason": reason})

    def start_inventory_verification(self, inventory: str) -> Json:
        return self.request("POST", f"/inventories/{inventory}/verification")

    def inventory_statement_template(self, inventory: str) -> Json:
        return self.request("GET", f"/inventories/{inventory}/statement-template")

    def approve_inventory(self, inventory: str, statement: Json, signature: str) -> Json:
        return self.request("POST", f"/inventories/{inventory}/approval",
                            json={"statement": statement, "signature": signature})

    def request_inventory_changes(self, inventory: str, note: str) -> Json:
        return self.request("POST", f"/inventories/{inventory}/changes-requested", json={"note": note})

    def reject_inventory(self, inventory: str, note: str) -> Json:
        return self.request("POST", f"/inventories/{inventory}/rejection", json={"note": note})

    # --- trading: cash ---

    def open_cash_account(self) -> Json:
        return self.request("POST", "/cash-accounts")

    def my_cash_account(self) -> Json:
        return self.request("GET", "/cash-accounts/mine")

    def close_cash_account(self) -> Json:
        return self.request("POST", "/cash-accounts/mine/closure")

    def cash_statement(self, account: str) -> list[Json]:
        return self.request("GET", f"/cash-accounts/{account}/statement")

    def confirm_deposit(self, account: str, amount_fen: int, bank_reference: str) -> Json:
        body = {"account": account, "amount_fen": amount_fen, "bank_reference": bank_reference}
        return self.request("POST", "/cash/deposits", json=body)

    def request_withdrawal(self, amount_fen: int) -> Json:
        return self.request("POST", "/cash/withdrawals", json={"amount_fen": amount_fen})

    def withdrawals(self, **filters: Any) -> Json:
        return self.request("GET", "/cash/withdrawals", params=_params(**filters))

    def pay_withdrawal(self, withdrawal: str, bank_reference: str) -> Json:
        return self.request("POST", f"/cash/withdrawals/{withdrawal}/payment", json={"bank_reference": bank_reference})

    def cancel_withdrawal(self, withdrawal: str, reason: str = "") -> Json:
        return self.request("POST", f"/cash/withdrawals/{withdrawal}/cancellation", json={"reason": reason})

    # --- trading: bilateral offers, trades, pledges ---

    def make_offer(self, buyer: str, from_account: str, price_fen_per_t: int, expires_at: str,
                   quantity_kg: int | None = None, serial_range: Json | None = None, note: str = "",
                   **narrow: Any) -> Json:
        body = {"buyer": buyer, "from_account": from_account, "price_fen_per_t": price_fen_per_t,
                "expires_at": expires_at, "quantity_kg": quantity_kg, "serial_range": serial_range, "note": note,
                **narrow}
        return self.request("POST", "/market/offers", json=_params(**body))

    def offers(self, **filters: Any) -> Json:
        return self.request("GET", "/market/offers", params=_params(**filters))

    def accept_offer(self, offer: str, to_account: str) -> Json:
        return self.request("POST", f"/market/offers/{offer}/acceptance", json={"to_account": to_account})

    def reject_offer(self, offer: str, reason: str = "") -> Json:
        return self.request("POST", f"/market/offers/{offer}/rejection", json={"reason": reason})

    def withdraw_offer(self, offer: str) -> Json:
        return self.request("POST", f"/market/offers/{offer}/withdrawal")

    def trades(self, **filters: Any) -> Json:
        return self.request("GET", "/market/trades", params=_params(**filters))

    def my_trades(self) -> Json:
        return self.request("GET", "/market/my-trades")

    def pledge(self, pledgee: str, from_account: str, loan_reference: str, maturity: str,
               quantity_kg: int | None = None, serial_range: Json | None = None) -> Json:
        body = {"pledgee": pledgee, "from_account": from_account, "loan_reference": loan_reference,
                "maturity": maturity, "quantity_kg": quantity_kg, "serial_range": serial_range}
        return self.request("POST", "/pledges", json=_params(**body))

    def pledges(self, **filters: Any) -> Json:
        return self.request("GET", "/pledges", params=_params(**filters))

    def release_pledge(self, pledge: str) -> Json:
        return self.request("POST", f"/pledges/{pledge}/release")

    def enforce_pledge(self, pledge: str, to_account: str) -> Json:
        return self.request("POST", f"/pledges/{pledge}/enforcement", json={"to_account": to_account})

    # --- products, the order book, market data ---

    def list_product(self, code: str, name: str, **rules: Any) -> Json:
        return self.request("POST", "/market/products", json=_params(code=code, name=name, **rules))

    def products(self) -> list[Json]:
        return self.request("GET", "/market/products")

    def product(self, code: str) -> Json:
        return self.request("GET", f"/market/products/{code}")

    def set_product_state(self, code: str, state: str, reason: str = "") -> Json:
        return self.request("POST", f"/market/products/{code}/state", json={"state": state, "reason": reason})

    def set_product_schedule(self, code: str, sessions: str, weekdays: str) -> Json:
        return self.request("POST", f"/market/products/{code}/schedule",
                            json={"sessions": sessions, "weekdays": weekdays})

    def place_order(self, code: str, side: str, account: str, quantity_kg: int, price_fen_per_t: int | None = None,
                    time_in_force: str = "day", serial_range: Json | None = None,
                    idempotency_key: str | None = None) -> Json:
        body = {"side": side, "account": account, "quantity_kg": quantity_kg, "price_fen_per_t": price_fen_per_t,
                "time_in_force": time_in_force, "serial_range": serial_range}
        return self.request("POST", f"/market/products/{code}/orders", json=_params(**body),
                            headers=_idempotency(idempotency_key))

    def orders(self, **filters: Any) -> Json:
        return self.request("GET", "/market/orders", params=_params(**filters))

    def order(self, order: str) -> Json:
        return self.request("GET", f"/market/orders/{order}")

    def amend_order(self, order: str, price_fen_per_t: int | None = None, quantity_kg: int | None = None) -> Json:
        return self.request("POST", f"/market/orders/{order}/amendment",
                            json=_params(price_fen_per_t=price_fen_per_t, quantity_kg=quantity_kg))

    def cancel_order(self, order: str) -> Json:
        return self.request("POST", f"/market/orders/{order}/cancellation")

    def book(self, code: str) -> Json:
        return self.request("GET", f"/market/products/{code}/book")

    def candles(self, code: str, **filters: Any) -> list[Json]:
        return self.request("GET", f"/market/products/{code}/candles", params=_params(interval="1d", **filters))

    def vwap(self, code: str, first_day: str, last_day: str) -> Json:
        return self.request("GET", f"/market/products/{code}/vwap",
                            params={"first_day": first_day, "last_day": last_day})

    # --- auctions ---

    def announce_auction(self, title: str, quantity_kg: int, reserve_price_fen: int, closes_at: str,
                         **lot: Any) -> Json:
        body = {"title": title, "quantity_kg": quantity_kg, "reserve_price_fen": reserve_price_fen,
                "closes_at": closes_at, **lot}
        return self.request("POST", "/auctions", json=_params(**body))

    def auctions(self, **filters: Any) -> Json:
        return self.request("GET", "/auctions", params=_params(**filters))

    def auction(self, auction: str) -> Json:
        return self.request("GET", f"/auctions/{auction}")

    def bid(self, auction: str, to_account: str, quantity_kg: int, price_fen_per_t: int) -> Json:
        return self.request("POST", f"/auctions/{auction}/bids", json={
            "to_account": to_account, "quantity_kg": quantity_kg, "price_fen_per_t": price_fen_per_t})

    def my_bids(self, auction: str) -> list[Json]:
        return self.request("GET", f"/auctions/{auction}/bids")

    def clear_auction(self, auction: str) -> Json:
        return self.request("POST", f"/auctions/{auction}/clearing")


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}
