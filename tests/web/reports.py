"""Fresh work for browser tests on the shared demo registry: a project of the demo's PV aggregator
with meters of its own, and a monitoring report at each step of its life. Every call makes new
rows, so tests never depend on each other's changes."""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import date
from typing import Any

from demo.data import pv_year
from methodologies.plugin import AssetKind
from registry.accounts import open_account
from registry.credits import issue_credits
from registry.models import ProjectStatus
from registry.parties import get_party
from registry.projects import ProjectDetails, get_project
from tests.web.conftest import Site
from tests.world import validate
from verification.assets import AssetSpec
from verification.blobs import BlobStore
from verification.projects import change_project_status, register_project
from verification.reports import create_report, get_report, start_verification, submit_report

# The demo's owners and verifiers, by their key in `DemoResult.keys`.
OWNER = "pv_aggregator"
VERIFIER = "sgs"  # accredited for CIR-PV-DG in CN-JS
PERIOD = (date(2026, 1, 1), date(2026, 3, 31))  # ended, as a report's period must have
MAX_BYTES = 64 * 1024 * 1024


def _party(site: Site, who: str) -> Any:
    with site.db.read() as s:
        return get_party(s, site.demo.parties[who])


def new_pv_project(site: Site, name: str | None = None, meters: int = 2) -> tuple[str, list[tuple[str, float]]]:
    """A registered PV project of the demo aggregator with `meters` new meters of 30 kWp."""
    tag = secrets.token_hex(3).upper()
    meter_rows = [(f"SIP-TEST-{tag}-{i}", 30.0) for i in range(1, meters + 1)]
    owner, validator = _party(site, OWNER), _party(site, VERIFIER)
    with site.db.write() as s:
        project = register_project(s, owner, ProjectDetails(
            name or f"Test rooftop {tag}", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou Industrial Park, Jiangsu", 31.3,
            120.7, 30.0 * meters, "kWp", date(2026, 1, 1), date(2035, 12, 31)),
            [AssetSpec(AssetKind.METER, meter) for meter, _ in meter_rows])
        change_project_status(s, owner, project, ProjectStatus.SUBMITTED)
        validate(s, validator, project)
        return project.public_id, meter_rows


def pv_data(meters: list[tuple[str, float]], period: tuple[date, date] = PERIOD) -> tuple[bytes, dict[str, Any]]:
    """CIR-PV-DG monitoring data for the period (15-minute readings) and its parameters."""
    frame, params = pv_year(meters, period[0].year, seed=7)
    days = frame["timestamp"].str.slice(0, 10)
    frame = frame[(days >= period[0].isoformat()) & (days <= period[1].isoformat())]
    out = io.BytesIO()
    frame.to_csv(out, index=False, lineterminator="\n")
    return out.getvalue(), params


def report_in_draft(site: Site, project: str, meters: list[tuple[str, float]]) -> str:
    data, params = pv_data(meters)
    blobs = BlobStore(site.var / "blobs")
    sha256 = blobs.put_bytes(data)
    owner = _party(site, OWNER)
    with site.db.write() as s:
        report = create_report(s, owner, get_project(s, project), PERIOD[0], PERIOD[1], blobs.path(sha256), sha256,
                               "test-2026q1.csv", params, site.demo.accounts[OWNER], MAX_BYTES)
        return report.public_id


def submitted_report(site: Site) -> str:
    project, meters = new_pv_project(site)
    report = report_in_draft(site, project, meters)
    with site.db.write() as s:
        submit_report(s, _party(site, OWNER), get_report(s, report))
    return report


def report_under_verification(site: Site) -> str:
    """Submitted by the aggregator and taken by the demo's SGS verifier (key: site.demo.verifier_key_files)."""
    report = submitted_report(site)
    with site.db.write() as s:
        start_verification(s, _party(site, VERIFIER), get_report(s, report))
    return report


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def account_with_credits(site: Site, quantity_kg: int, vintage: int = 2026) -> str:
    """A new holding account of the demo aggregator holding `quantity_kg` of a new project's credits
    (issued by the registrar), so that a test may move or retire them without touching the demo's."""
    project, _ = new_pv_project(site)
    owner = _party(site, OWNER)
    with site.db.write() as s:
        account = open_account(s, owner, f"Test holdings {secrets.token_hex(3)}")
        issue_credits(s, _party(site, "registrar"), project, vintage, quantity_kg, account.public_id)
        return account.public_id
