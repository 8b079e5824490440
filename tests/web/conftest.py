"""The pages in a real browser: Debian's Chromium driven by pytest-playwright, against the real app
under uvicorn, on a registry loaded with the demo (on SQLite and on PostgreSQL).

The browser must start: these tests fail, never skip, on a machine without it (`make test`
installs it first). One demo registry per database serves every test of the session; tests that
change it make their own parties, projects and retirements.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, BrowserContext, Page, expect

from demo.scenario import DemoResult, load_demo
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.settings import Settings
from tests.conftest import fresh_postgres_database, postgres_admin_url
from tests.live_server import live_server
from verification.blobs import BlobStore

CHROMIUM = Path("/usr/bin/chromium")
# Headless in a container: no sandbox (no user namespaces), no GPU, nothing that calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (make browser)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "en-GB", "viewport": {"width": 1280, "height": 900}}


@dataclass
class Site:
    url: str
    db: Database
    demo: DemoResult
    var: Path

    def key(self, who: str) -> str:
        return self.demo.keys[who]


def market_morning_after(day: date) -> datetime:
    """The market clock of the served demo: 10:00 in Shanghai on the weekday after the demo's day of
    trading, so that the books are in session whenever the tests run."""
    day += timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tzinfo=ZoneInfo("Asia/Shanghai"))


def serve_demo(db_url: str, var: Path) -> Iterator[Site]:
    """The demo loaded into a migrated, empty database, served until the generator is closed."""
    db = Database(db_url)
    signer = LogSigner("registry.test/log", Ed25519PrivateKey.generate())
    blobs = BlobStore(var / "blobs")
    demo = load_demo(db, signer, blobs, var)
    settings = Settings(database_url=db_url, run_sequencer=True, sequencer_interval_s=0.1, blob_dir=var / "blobs",
                        market_clock=market_morning_after(date.fromisoformat(demo.market.trading_day)))
    try:
        with live_server(db, signer, settings) as url:
            yield Site(url, db, demo, var)
    finally:
        db.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    var = tmp_path_factory.mktemp(f"web-{request.param}")
    if request.param == "sqlite":
        path = var / "registry.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield from serve_demo(f"sqlite:///{path}", var)
    else:
        with fresh_postgres_database(postgres_admin_url()) as url:
            yield from serve_demo(url, var)


@pytest.fixture
def context(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no cookie from another test."""
    context = browser.new_context(**browser_context_args)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, f"script errors on the page: {errors}"


def sign_in(page: Page, site: Site, who: str) -> None:
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("API key").fill(site.key(who))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's findings on the page as it is now, of the given impacts."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in impacts]


def demo_ids(site: Site) -> dict[str, str]:
    return {"retirement": site.demo.retirement, **{f"project_{k}": v for k, v in site.demo.projects.items()},
            **{f"report_{k}": v for k, v in site.demo.reports.items()}}


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
