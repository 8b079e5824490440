"""Every role's job through the HTTP API, the Python client and the CLI, against a live server, on
SQLite and PostgreSQL: the verifier's queue and what it signs, the public registry, the registrar's
controls."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.client import RegistryAPIError, RegistryClient
from registry import credits
from registry.accounts import open_account
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.models import PartyKind, Role
from registry.parties import create_party, issue_api_key
from registry.settings import Settings
from tests.live_server import live_server
from tests.verification_world import (
    PV_DATA,
    PV_PARAMS,
    VerificationWorld,
    Verifier,
    make_verification_world,
)
from tests.world import issue

runner = CliRunner()


@dataclass
class Live:
    db: Database
    vw: VerificationWorld
    url: str
    keys: dict[str, str]  # registrar, owner, factory, cqc, sgs
    tmp: Path

    def client(self, who: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, self.keys[who] if who else None)

    def cir(self, *args: str, who: str | None = None, ok: bool = True) -> str:
        result = runner.invoke(app, list(args), env={"CIR_URL": self.url, "CIR_API_KEY": self.keys.get(who or "", "")})
        assert (result.exit_code == 0) == ok, result.output
        return result.output


def verifier_key(db: Database, verifier: Verifier) -> str:
    with db.write() as s:
        return issue_api_key(s, verifier.party, verifier.party)[1]


@pytest.fixture
def live(db: Database, signer: LogSigner, tmp_path: Path) -> Iterator[Live]:
    vw = make_verification_world(db)
    keys = {"registrar": vw.base.registrar_key, "owner": vw.base.owner_key, "factory": vw.base.factory_key,
            "cqc": verifier_key(db, vw.cqc), "sgs": verifier_key(db, vw.sgs)}
    settings = Settings(database_url=db.url, run_sequencer=True, sequencer_interval_s=0.05, blob_dir=tmp_path / "b")
    with live_server(db, signer, settings) as url:
        yield Live(db, vw, url, keys, tmp_path)


def new_report(live: Live) -> str:
    with live.client("owner") as c:
        return str(c.create_report(live.vw.project, PV_DATA, PV_PARAMS, "2023-01-01", "2023-12-31",
                                   live.vw.base.owner_account)["id"])


def refused(call: Any, status: int, problem: str) -> RegistryAPIError:
    with pytest.raises(RegistryAPIError) as raised:
        call()
    assert raised.value.status == status and raised.value.problem["type"] == f"urn:cir:problem:{problem}", \
        raised.value.problem
    return raised.value


# --- the verifier -----------------------------------------------------------------------------------


def test_the_queue_and_a_report_that_returns_to_its_verifier(live: Live) -> None:
    report = new_report(live)
    with live.client("owner") as owner, live.client("cqc") as cqc, live.client("sgs") as sgs:
        assert [r["id"] for r in owner.reports()["items"]] == [report]
        assert cqc.reports(waiting=True)["items"] == []  # a draft waits for no one
        owner.submit_report(report)
        for verifier in (cqc, sgs):  # both in scope: both see it waiting
            assert [r["id"] for r in verifier.reports(waiting=True, methodology_id="CIR-PV-DG")["items"]] == [report]
        assert sgs.reports(waiting=True, region="CN-ZJ")["items"] == []
        cqc.start_verification(report)
        assert sgs.reports(waiting=True)["items"] == []
        assert [r["id"] for r in cqc.reports(assigned="me")["items"]] == [report]
        queued = cqc.reports(assigned="me")["items"][0]
        assert (queued["project_name"], queued["owner_name"], queued["region"]) == (
            "SIP rooftop PV", "SIP Rooftop Solar Aggregator", "CN-JS")
        cqc.request_changes(report, "Recalibrate SH-1 and upload again")
        owner.replace_report_data(report, PV_DATA, PV_PARAMS)
        assert owner.submit_report(report)["status"] == "submitted"
        # It went back to its owner at CQC's request: it returns to CQC, not to whoever comes first.
        assert sgs.reports(waiting=True)["items"] == []
        refused(lambda: sgs.start_verification(report), 403, "permission-denied")
        refused(lambda: sgs.report(report), 404, "unknown-report")
        assert [r["id"] for r in cqc.reports(assigned="me", status="submitted")["items"]] == [report]
        assert cqc.start_verification(report)["status"] == "under_verification"
    listed = live.cir("report", "list", "--mine", who="cqc")
    assert report in listed and "under_verification" in listed
    refused_filter = live.cir("report", "list", "--status", "nonsense", who="cqc", ok=False)
    assert "refused: 422" in refused_filter


def test_the_verifiers_cli_requests_changes_comments_and_rejects_and_the_trail_shows_each_step(live: Live) -> None:
    report = new_report(live)
    (live.tmp / "params.json").write_text(json.dumps(PV_PARAMS))
    assert "submitted" in live.cir("report", "submit", report, who="owner")
    live.cir("verifier", "take", report, who="cqc")
    assert "changes_requested" in live.cir("verifier", "request-changes", report, "--note", "Add the March readings",
                                           who="cqc")
    live.cir("report", "comment", report, "Uploading the corrected file today", who="owner")
    replaced = live.cir("report", "replace-data", report, "--data", str(PV_DATA), "--params",
                        str(live.tmp / "params.json"), who="owner")
    assert f"{report} draft: net 462000 kg" in replaced
    live.cir("report", "submit", report, who="owner")
    live.cir("verifier", "take", report, who="cqc")
    assert "rejected" in live.cir("verifier", "reject", report, "--note", "Meter not in the design document",
                                  who="cqc")
    with live.client("owner") as owner:
        steps = [(e["action"], e["from_status"], e["to_status"]) for e in owner.report_trail(report)]
    assert steps == [
        ("created", None, "draft"), ("submitted", "draft", "submitted"),
        ("verification started", "submitted", "under_verification"),
        ("changes requested", "under_verification", "changes_requested"), ("commented", None, None),
        ("replaced data", "changes_requested", "draft"), ("submitted", "draft", "submitted"),
        ("verification started", "submitted", "under_verification"),
        ("rejected", "under_verification", "rejected"),
    ]
    trail = live.cir("report", "trail", report, who="owner")
    assert "Meter not in the design document" in trail


def test_the_statement_names_what_is_signed_and_is_public_after_issuance(live: Live) -> None:
    report = new_report(live)
    with live.client("owner") as owner, live.client("cqc") as cqc:
        owner.submit_report(report)
        cqc.start_verification(report)
        template = cqc.statement_template(report)
    assert template["v"] == 2 and template["project"] == {"id": live.vw.project, "name": "SIP rooftop PV",
                                                          "region": "CN-JS"}
    assert template["owner"]["name"] == "SIP Rooftop Solar Aggregator" and template["account"] == \
        live.vw.base.owner_account
    assert template["period"] == {"start": "2023-01-01", "end": "2023-12-31"} and template["vintages"] == [2023]
    assert template["methodology"] == {"id": "CIR-PV-DG", "version": "1.0"} and template["buffer_kg"] == {"2023": 0}
    statement = live.tmp / "statement.json"
    live.cir("verifier", "template", report, str(statement), "--opinion", "Reasonable assurance.", who="cqc")
    (live.tmp / "cqc.pem").write_bytes(_pem(live.vw.cqc))
    signature = runner.invoke(app, ["verifier", "sign", str(statement), "--key", str(live.tmp / "cqc.pem")])
    assert "project SIP rooftop PV" in signature.stderr and "credits to account" in signature.stderr
    approved = live.cir("verifier", "approve", report, "--statement", str(statement), "--signature",
                        signature.stdout.strip(), who="cqc")
    issuance = approved.split("issuance ")[1].split(":")[0]
    public = live.tmp / "public-statement.json"
    live.cir("proof", "statement", issuance, str(public))  # no key: the statement is public
    verified = live.cir("verify-statement", str(public))
    assert "VERIFIED" in verified and "verified 462,000 kg of 462,000 computed" in verified
    signed = json.loads(public.read_text())
    assert signed["verifier"]["key_id"] == template["verifier"]["key_id"]
    signed["statement"]["verified_kg"]["2023"] = 462_001
    public.write_text(json.dumps(signed))
    assert "NOT VERIFIED" in live.cir("verify-statement", str(public), ok=False)
    with live.db.write() as s:  # a registrar's direct issuance has no statement
        _, movement = credits.issue_credits(s, live.vw.base.registrar, live.vw.project, 2024, 1_000,
                                            live.vw.base.owner_account)
    with live.client() as anyone:
        refused(lambda: anyone.issuance_statement(movement.public_id), 404, "unknown-statement")


def _pem(verifier: Verifier) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return verifier.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


# --- the public ---------------------------------------------------------------------------------------


def retire(live: Live, kg: int, beneficiary: str, end: str = "2025-12-31") -> str:
    with live.client("factory") as factory:
        return str(factory.retire(live.vw.base.factory_account, beneficiary, "organisation", "Net-zero claim",
                                  "2025-01-01", end, quantity_kg=kg)["id"])


def test_public_lists_filter_page_and_export_csv(live: Live) -> None:
    issue(live.db, live.vw.base, 5_000, vintage=2024)
    issue(live.db, live.vw.base, 7_000, vintage=2025)
    with live.client("owner") as owner:
        owner.transfer(live.vw.base.owner_account, live.vw.base.factory_account, 12_000)
    first = retire(live, 3_000, "Suzhou Precision Parts Factory")
    second = retire(live, 4_000, "苏州绿色包装有限公司")
    with live.client() as anyone:
        projects = anyone.projects(region="CN-JS", methodology_id="CIR-PV-DG", status="registered")["items"]
        assert {p["id"] for p in projects} == {live.vw.base.project, live.vw.project}
        assert projects[0]["owner_name"] == "SIP Rooftop Solar Aggregator"
        assert anyone.projects(region="CN-ZJ")["items"] == []
        assert [i["vintage"] for i in anyone.issuances(project=live.vw.base.project)["items"]] == [2024, 2025]
        assert [i["quantity_kg"] for i in anyone.issuances(vintage=2025, region="CN-JS")["items"]] == [7_000]
        assert [r["id"] for r in anyone.retirements(beneficiary="PRECISION")["items"]] == [first]
        assert [r["id"] for r in anyone.retirements(beneficiary="绿色")["items"]] == [second]
        assert [r["id"] for r in anyone.retirements(vintage=2025)["items"]] == [second]  # oldest first: 2024, then 2025
        assert {r["id"] for r in anyone.retirements(project=live.vw.base.project)["items"]} == {first, second}
        assert anyone.retirements(claim_period_end="2024-12-31")["items"] == []
        assert len(anyone.retirements(retired_from="2020-01-01T00:00:00Z")["items"]) == 2
        page = anyone.retirements(limit=1)
        assert len(page["items"]) == 1 and page["next_cursor"]
        assert anyone.retirements(cursor=page["next_cursor"], limit=1)["items"][0]["id"] == second
        serial = anyone.issuances(vintage=2025)["items"][0]["serial"]  # 2,000 of its 7,000 units retired
        blocks = anyone.blocks(serial=serial)["items"]
        assert {(b["status"], b["quantity_kg"], b["retirement"]) for b in blocks} == {
            ("retired", 2_000, second), ("active", 5_000, None)}
        exported = anyone.export_csv("retirements", account=live.vw.base.factory_account)
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert [r["id"] for r in rows] == [first, second] and rows[1]["beneficiary_name"] == "苏州绿色包装有限公司"
        refused(lambda: anyone.request("GET", "/retirements", params={"projekt": "prj_x"}), 400, "unknown-filter")
        refused(lambda: anyone.retirements(vintage=99999), 422, "request-validation-failed")
    with httpx.Client(base_url=live.url) as raw:
        by_accept = raw.get("/api/v1/projects", headers={"Accept": "text/csv"})
        assert by_accept.headers["content-type"].startswith("text/csv") and "owner_name" in by_accept.text
    cli_csv = live.tmp / "issuances.csv"
    assert "2 rows written" in live.cir("registry", "issuances", "--filter", f"project={live.vw.base.project}",
                                        "--csv", str(cli_csv))
    assert "refused: 400" in live.cir("registry", "retirements", "--filter", "nonsense=1", ok=False)


def test_party_profiles_stats_and_account_history(live: Live) -> None:
    with live.db.write() as s:
        household = create_party(s, live.vw.base.registrar, "王小明", PartyKind.INDIVIDUAL, [Role.PROJECT_OWNER],
                                 region="CN-JS")
        buyer = create_party(s, live.vw.base.registrar, "Guangzhou Cement Works", PartyKind.ORGANISATION,
                             [Role.BUYER], region="CN-GD")
    with live.client() as anyone:
        profile = anyone.party(household.public_id)
        assert profile["name"] == "王**" and profile["region"] == "CN-JS"
        owner = anyone.party(live.vw.base.owner.public_id)
        assert {p["id"] for p in owner["projects"]} == {live.vw.base.project, live.vw.project}
    issue(live.db, live.vw.base, 10_000, vintage=2025)
    with live.client("owner") as owner:
        owner.transfer(live.vw.base.owner_account, live.vw.base.factory_account, 6_000)
    retire(live, 2_500, "Suzhou Precision Parts Factory")
    with live.db.write() as s:  # a buyer in Guangdong retires Jiangsu credits: cross-regional
        gd_account = open_account(s, buyer, "Offsets").public_id
        credits.transfer_credits(s, live.vw.base.factory, live.vw.base.factory_account, gd_account, 1_000,
                                 credits.OldestFirstSelection())
        credits.retire_credits(s, buyer, gd_account, 1_000, credits.OldestFirstSelection(), credits.RetirementDetails(
            "Guangzhou Cement Works", "organisation", "2025 residual emissions", date(2025, 1, 1),
            date(2025, 12, 31)))
    with live.client() as anyone:
        stats = anyone.stats()
    totals = stats["totals"]
    assert (totals["issued_kg"], totals["retired_kg"], totals["held_kg"]) == (10_000, 3_500, 6_500)
    assert totals["retired_cross_regional_kg"] == 1_000 and stats["cross_regional_retirements"] == 1
    assert stats["by_vintage"][0]["key"] == 2025 and stats["by_region"][0]["key"] == "CN-JS"
    assert stats["by_month"][0]["issued_kg"] == 10_000
    with live.client("factory") as factory:
        lines = factory.history(live.vw.base.factory_account)["items"]
    assert [(line["type"], line["direction"], line["quantity_kg"]) for line in lines] == [
        ("open_account", "opened", 0), ("transfer", "in", 6_000), ("retire", "out", 2_500),
        ("transfer", "out", 1_000)]
    history = live.cir("account", "history", live.vw.base.factory_account, who="factory")
    assert "retire" in history and "2500" in history
    assert "refused: 403" in live.cir("account", "history", live.vw.base.factory_account, who="owner", ok=False)


# --- the registrar ------------------------------------------------------------------------------------


def test_the_registrar_lists_suspends_and_reactivates_parties(live: Live) -> None:
    listed = live.cir("party", "list", "--role", "verifier", who="registrar")
    assert "China Quality Certification Centre" in listed and "SGS-CSTC" in listed and "Rooftop" not in listed
    with live.client("registrar") as registrar:
        assert [p["name"] for p in registrar.parties(q="rooftop")["items"]] == ["SIP Rooftop Solar Aggregator"]
        owner_id = live.vw.base.owner.public_id
        assert registrar.suspend_party(owner_id, "Unpaid registry fees for 2025")["status"] == "suspended"
    with live.client("owner") as owner:
        problem = refused(owner.me, 403, "party-suspended")
        assert "Unpaid registry fees" in problem.problem["detail"]
    with live.client("owner") as owner:
        refused(lambda: owner.parties(), 403, "party-suspended")
    assert "is active" in live.cir("party", "reactivate", live.vw.base.owner.public_id, "--reason", "Fees paid",
                                   who="registrar")
    with live.client("owner") as owner:
        assert owner.me()["status"] == "active"
        refused(lambda: owner.parties(), 403, "role-required")
        refused(lambda: owner.suspend_party(live.vw.base.factory.public_id, "no"), 403, "role-required")


def test_accreditations_are_suspended_reinstated_revoked_and_their_scope_checked(live: Live) -> None:
    report = new_report(live)
    with live.client("owner") as owner:
        owner.submit_report(report)
    with live.client("registrar") as registrar:
        accreditation = live.vw.sgs.accreditation
        suspended = registrar.set_accreditation_status(accreditation, "suspension", "Audit of its 2025 work")
        assert suspended["status"] == "suspended" and suspended["status_reason"] == "Audit of its 2025 work"
    with live.client("sgs") as sgs:
        assert sgs.reports(waiting=True)["items"] == []
        refused(lambda: sgs.start_verification(report), 403, "verifier-not-accredited")
    assert "is active" in live.cir("verifier", "reinstate", accreditation, "--reason", "Audit closed",
                                   who="registrar")
    with live.client("sgs") as sgs:
        assert sgs.start_verification(report)["status"] == "under_verification"
    assert "is revoked" in live.cir("verifier", "revoke", accreditation, "--reason", "Withdrew from China",
                                    who="registrar")
    assert "refused: 409" in live.cir("verifier", "reinstate", accreditation, "--reason", "again", who="registrar",
                                      ok=False)
    with live.client("sgs") as sgs:
        refused(lambda: sgs.statement_template(report), 403, "verifier-not-accredited")
    with live.client() as anyone:
        published = {a["id"]: a for a in anyone.verifiers()}[accreditation]
    assert published["status"] == "revoked" and published["public_key_pem"].startswith("-----BEGIN PUBLIC KEY")
    pem = published["public_key_pem"]
    with live.client("registrar") as registrar:
        for methodologies, regions, wrong in ((["CIR-NOPE"], ["CN-JS"], "CIR-NOPE"), (["*"], ["Jiangsu"], "Jiangsu"),
                                              (["CIR-PV-DG@9.9"], ["CN-JS"], "CIR-PV-DG@9.9")):
            problem = refused(lambda m=methodologies, r=regions: registrar.accredit(
                live.vw.sgs.party.public_id, pem, m, r, "2026-01-01", "2027-01-01"), 422, "invalid-request")
            assert wrong in problem.problem["detail"]


def test_registration_needs_a_validation_report_and_a_refused_move_names_the_allowed_ones(live: Live) -> None:
    project = {"name": "Another roof", "methodology_id": "CIR-PV-DG", "methodology_version": "1.0", "region": "CN-JS",
               "location": "Suzhou", "crediting_period_start": "2024-01-01", "crediting_period_end": "2033-12-31",
               "assets": [{"kind": "meter", "identifier": "ROOF-2"}]}
    with live.client("owner") as owner, live.client("cqc") as cqc:
        pid = owner.create_project(project)["id"]
        problem = refused(lambda: owner.set_project_status(pid, "registered"), 409, "invalid-project-transition")
        assert "you may move it to: submitted, withdrawn" in problem.problem["detail"]
        owner.set_project_status(pid, "submitted")
        cqc.set_project_status(pid, "under_validation")
        refused(lambda: cqc.set_project_status(pid, "registered"), 409, "validation-report-missing")
        report = live.tmp / "validation.md"
        report.write_text("# Validation report\nROOF-2 seen on site.\n")
        refused(lambda: owner.file_document(pid, report, "My own validation", "validation_report"), 403,
                "role-required")
        documents = cqc.file_document(pid, report, "Validation report", "validation_report")
        assert documents[0]["kind"] == "validation_report" and documents[0]["filed_by"] == live.vw.cqc.party.public_id
        assert cqc.set_project_status(pid, "registered")["status"] == "registered"


# --- the CLI itself ---------------------------------------------------------------------------------


def test_cir_transfer_and_retire(live: Live) -> None:
    issue(live.db, live.vw.base, 3_000, vintage=2025)
    moved = live.cir("transfer", "--from", live.vw.base.owner_account, "--to", live.vw.base.factory_account,
                     "--quantity-kg", "2000", "--idempotency-key", "t-1", who="owner")
    assert "2000 kg to" in moved
    again = live.cir("transfer", "--from", live.vw.base.owner_account, "--to", live.vw.base.factory_account,
                     "--quantity-kg", "2000", "--idempotency-key", "t-1", who="owner")
    assert again.splitlines()[0] == moved.splitlines()[0]  # the retry returned the first result
    retired = live.cir("retire", "--from", live.vw.base.factory_account, "--beneficiary", "Suzhou Precision Parts",
                       "--purpose", "2025 residual emissions", "--claim-period-start", "2025-01-01",
                       "--claim-period-end", "2025-12-31", "--quantity-kg", "1500", who="factory")
    assert "1500 kg retired for Suzhou Precision Parts" in retired and "/proof" in retired
    assert "refused: 409" in live.cir("retire", "--from", live.vw.base.factory_account, "--beneficiary", "X",
                                      "--purpose", "y", "--claim-period-start", "2025-01-01",
                                      "--claim-period-end", "2025-12-31", "--quantity-kg", "600", who="factory",
                                      ok=False)


def test_unreachable_servers_wrong_urls_and_bad_keys_print_one_line(live: Live) -> None:
    for url in ("http://127.0.0.1:9", f"{live.url}/nowhere"):
        result = runner.invoke(app, ["account", "open", "x", "--url", url], env={"CIR_API_KEY": live.keys["owner"]})
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
        assert "Traceback" not in result.output
    bad_key = runner.invoke(app, ["account", "open", "x"], env={"CIR_URL": live.url, "CIR_API_KEY": "cir_wrong"})
    assert bad_key.exit_code == 1 and "refused: 401" in bad_key.output and "check --api-key" in bad_key.output


def test_cir_help_loads_no_heavy_module_and_every_command_explains_itself() -> None:
    probe = ("import sys, api.cli; heavy = {'pandas', 'sqlalchemy', 'fastapi', 'httpx', 'cryptography'} & "
             "set(m.split('.')[0] for m in sys.modules); print(sorted(heavy))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"

    def walk(group: Any, prefix: str = "cir") -> Iterator[tuple[str, str | None]]:
        for info in group.registered_commands:
            name = info.name or info.callback.__name__.replace("_", "-")
            yield f"{prefix} {name}", info.help or (info.callback.__doc__ if info.callback else None)
        for sub in group.registered_groups:
            yield f"{prefix} {sub.name}", sub.typer_instance.info.help
            yield from walk(sub.typer_instance, f"{prefix} {sub.name}")

    missing = [name for name, text in walk(app) if not (text and text.strip())]
    assert missing == []
