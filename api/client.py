"""A small Python client for the registry's HTTP API; the `cir` role commands use it.

    client = RegistryClient("http://127.0.0.1:8000", api_key="cir_…")
    sha256 = client.upload(Path("meter-2025.csv"))

Errors come back as `RegistryAPIError`, carrying the problem details the API returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


class RegistryAPIError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("errors") or ""
        super().__init__(f"{status} {problem.get('title', 'error')} {detail}".strip())


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
            raise RegistryAPIError(response.status_code, problem)
        if response.status_code == 204:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    # --- every role ---

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/parties/me")  # type: ignore[no-any-return]

    def balances(self, account: str, group_by: str | None = None) -> list[dict[str, Any]]:
        params = {"group_by": group_by} if group_by else {}
        return self.request("GET", f"/accounts/{account}/balances", params=params)  # type: ignore[no-any-return]

    def log_key(self) -> str:
        return str(self.request("GET", "/log/key")).strip()

    def entry_proof(self, entry_id: int) -> dict[str, Any]:
        return self.request("GET", f"/ledger-entries/{entry_id}/proof")  # type: ignore[no-any-return]

    def retirement_proof(self, retirement: str) -> dict[str, Any]:
        return self.request("GET", f"/retirements/{retirement}/proof")  # type: ignore[no-any-return]

    def open_account(self, name: str) -> dict[str, Any]:
        return self.request("POST", "/accounts", json={"name": name})  # type: ignore[no-any-return]

    # --- the registrar ---

    def create_party(self, name: str, kind: str, roles: list[str]) -> dict[str, Any]:
        body = {"name": name, "kind": kind, "roles": roles}
        return self.request("POST", "/parties", json=body)  # type: ignore[no-any-return]

    def create_api_key(self, party: str, label: str = "") -> str:
        return str(self.request("POST", f"/parties/{party}/api-keys", json={"label": label})["api_key"])

    def accredit(self, party: str, public_key_pem: str, methodologies: list[str], regions: list[str],
                 valid_from: str, valid_until: str) -> dict[str, Any]:
        body = {"party": party, "public_key_pem": public_key_pem, "methodologies": methodologies,
                "regions": regions, "valid_from": valid_from, "valid_until": valid_until}
        return self.request("POST", "/verifiers", json=body)  # type: ignore[no-any-return]

    # --- project owners ---

    def upload(self, path: Path) -> str:
        """Stream a file to the registry; returns its SHA-256, by which reports cite it."""
        with path.open("rb") as f:
            return str(self.request("PUT", "/uploads", content=f)["sha256"])

    def create_project(self, project: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/projects", json=project)  # type: ignore[no-any-return]

    def set_project_status(self, project: str, status: str, note: str = "") -> dict[str, Any]:
        body = {"status": status, "note": note}
        return self.request("POST", f"/projects/{project}/status", json=body)  # type: ignore[no-any-return]

    def create_report(self, project: str, data: Path, params: dict[str, Any], period_start: str, period_end: str,
                      issue_to_account: str) -> dict[str, Any]:
        body = {"period_start": period_start, "period_end": period_end, "data_sha256": self.upload(data),
                "data_filename": data.name, "params": params, "issue_to_account": issue_to_account}
        return self.request("POST", f"/projects/{project}/reports", json=body)  # type: ignore[no-any-return]

    def report(self, report: str) -> dict[str, Any]:
        return self.request("GET", f"/reports/{report}")  # type: ignore[no-any-return]

    def submit_report(self, report: str) -> dict[str, Any]:
        return self.request("POST", f"/reports/{report}/submit")  # type: ignore[no-any-return]

    # --- verifiers ---

    def start_verification(self, report: str) -> dict[str, Any]:
        return self.request("POST", f"/reports/{report}/verification")  # type: ignore[no-any-return]

    def statement_template(self, report: str) -> dict[str, Any]:
        return self.request("GET", f"/reports/{report}/statement-template")  # type: ignore[no-any-return]

    def approve(self, report: str, statement: dict[str, Any], signature: str) -> dict[str, Any]:
        body = {"statement": statement, "signature": signature}
        return self.request("POST", f"/reports/{report}/approval", json=body)  # type: ignore[no-any-return]

    def request_changes(self, report: str, note: str) -> dict[str, Any]:
        return self.request("POST", f"/reports/{report}/changes-requested", json={"note": note})  # type: ignore[no-any-return]

    def reject(self, report: str, note: str) -> dict[str, Any]:
        return self.request("POST", f"/reports/{report}/rejection", json={"note": note})  # type: ignore[no-any-return]
