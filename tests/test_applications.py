"""Applying for an account, on SQLite and PostgreSQL: a household applies, the registrar approves
or rejects, the applicant claims its key once. The services directly, then the HTTP API, the
Python client and the CLI against a live server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel, col
from typer.testing import CliRunner

from api.cli import app
from api.client import RegistryAPIError, RegistryClient
from registry import errors
from registry.accounts import readable_accounts_query
from registry.applications import (
    ApplicationDetails,
    approve_application,
    claim_application,
    get_application,
    reject_application,
    submit_application,
)
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.models import Account, ApiKey, Party, PartyApplication
from registry.parties import authenticate, get_party
from registry.queries import public_party_out
from registry.settings import Settings
from tests.live_server import live_server
from tests.world import World, make_world

runner = CliRunner()

HOUSEHOLD = ApplicationDetails(
    name="王小明", kind="individual", region="CN-JS", address="苏州工业园区星湖街 88 号 3 幢", phone="138 1234 5678",
    email=None, role="project_owner", description="8 kWp rooftop PV, grid-connected 2024", consent=True)
HOUSEHOLD_JSON = {"name": "Wang Xiaoming", "region": "CN-JS", "address": "88 Xinghu Street, Suzhou",
                  "email": "wang@example.com", "role": "project_owner",
                  "description": "8 kWp rooftop PV, grid-connected 2024", "consent": True}


def submit(db: Database, details: ApplicationDetails = HOUSEHOLD) -> tuple[str, str]:
    with db.write() as s:
        receipt = submit_application(s, details)
        return receipt.application.public_id, receipt.claim_code


def count(db: Database, model: type[SQLModel]) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


# --- the services -----------------------------------------------------------------------------------


def test_a_household_applies_is_approved_and_claims_its_key_once(db: Database) -> None:
    world = make_world(db)
    reference, code = submit(db)
    assert len(code.replace("-", "")) == 28  # 140 random bits
    with db.read() as s:
        stored = s.execute(select(PartyApplication)).scalar_one()
        assert code not in repr(stored.__dict__) and code.replace("-", "") not in repr(stored.__dict__)
        assert stored.consented_at is not None and stored.status == "submitted"
    with db.write() as s:
        party = approve_application(s, world.registrar, get_application(s, world.registrar, reference))
        assert (party.name, party.kind, party.region, party.role_set) == (
            "王小明", "individual", "CN-JS", frozenset({"project_owner"}))
        accounts = s.execute(readable_accounts_query(party)).scalars().all()
        assert [a.name for a in accounts] == ["Main"]
        assert public_party_out(s, party).name == "王**"  # the public sees an individual's name masked
    with db.write() as s:
        claimed = claim_application(s, reference, code.lower().replace("-", " "))  # as a person may type it
    with db.read() as s:
        assert authenticate(s, claimed.api_key).public_id == party.public_id  # type: ignore[union-attr]
    keys = count(db, ApiKey)
    with db.write() as s, pytest.raises(errors.ApplicationAlreadyClaimed, match="already claimed"):
        claim_application(s, reference, code)
    assert count(db, ApiKey) == keys


def test_claims_with_a_wrong_code_or_before_approval_are_refused_and_change_nothing(db: Database) -> None:
    world = make_world(db)
    reference, code = submit(db)
    keys = count(db, ApiKey)
    with db.write() as s, pytest.raises(errors.ApplicationNotApproved, match="waiting for the registrar"):
        claim_application(s, reference, code)
    with db.write() as s:
        approve_application(s, world.registrar, get_application(s, world.registrar, reference))
    with db.write() as s, pytest.raises(errors.ClaimCodeMismatch):
        claim_application(s, reference, "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")
    with db.write() as s, pytest.raises(errors.UnknownApplication):
        claim_application(s, "app_nosuchapplication", code)
    assert count(db, ApiKey) == keys
    with db.read() as s:
        assert s.execute(select(col(PartyApplication.claimed_at))).scalar_one() is None


def test_a_rejection_needs_a_reason_and_is_final(db: Database) -> None:
    world = make_world(db)
    reference, code = submit(db)
    with db.write() as s, pytest.raises(errors.InvalidRequest, match="say why"):
        reject_application(s, world.registrar, get_application(s, world.registrar, reference), "  ")
    with db.write() as s:
        rejected = reject_application(s, world.registrar, get_application(s, world.registrar, reference),
                                      "The roof is already registered by an aggregator")
        assert rejected.status == "rejected"
    parties = count(db, Party)
    with db.write() as s, pytest.raises(errors.ApplicationAlreadyDecided, match="already rejected"):
        approve_application(s, world.registrar, get_application(s, world.registrar, reference))
    with db.write() as s, pytest.raises(errors.ApplicationNotApproved, match="already registered by an aggregator"):
        claim_application(s, reference, code)
    assert count(db, Party) == parties


def test_only_the_registrar_reads_and_decides(db: Database) -> None:
    world = make_world(db)
    reference, _ = submit(db)
    for stranger in (world.owner, world.factory):
        with db.write() as s, pytest.raises(errors.RoleRequired):
            get_application(s, stranger, reference)
        with db.write() as s, pytest.raises(errors.RoleRequired):
            approve_application(s, stranger, s.execute(select(PartyApplication)).scalar_one())
        with db.write() as s, pytest.raises(errors.RoleRequired):
            reject_application(s, stranger, s.execute(select(PartyApplication)).scalar_one(), "no")


@pytest.mark.parametrize(("change", "fields"), [
    ({"name": " ", "address": "", "description": ""}, {"name", "address", "description"}),
    ({"region": "Jiangsu"}, {"region"}),
    ({"phone": None, "email": None}, {"phone"}),
    ({"phone": "call me"}, {"phone"}),
    ({"email": "wang.example.com"}, {"email"}),
    ({"consent": False}, {"consent"}),
    ({"role": "registrar"}, {"role"}),
    ({"kind": "company"}, {"kind"}),
    ({"name": "王" * 201, "description": "x" * 501}, {"name", "description"}),
    ({"name": "Wang\x00"}, {"name"}),
])
def test_every_bad_field_is_named_and_nothing_is_stored(db: Database, change: dict[str, object],
                                                        fields: set[str]) -> None:
    with db.write() as s, pytest.raises(errors.InvalidApplication) as refused:
        submit_application(s, replace(HOUSEHOLD, **change))  # type: ignore[arg-type]
    assert set(refused.value.problems) == fields
    assert count(db, PartyApplication) == 0


def test_two_registrars_approving_at_once_make_one_party(db: Database) -> None:
    world = make_world(db)
    reference, _ = submit(db)
    parties, accounts, threads = count(db, Party), count(db, Account), 8
    barrier = threading.Barrier(threads)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def approve() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                approve_application(s, world.registrar, get_application(s, world.registrar, reference))
            outcome = "won"
        except errors.ApplicationAlreadyDecided:
            outcome = "already decided"
        with lock:
            outcomes[outcome] += 1

    racers = [threading.Thread(target=approve) for _ in range(threads)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert outcomes == Counter({"won": 1, "already decided": threads - 1})
    assert count(db, Party) == parties + 1
    assert count(db, Account) == accounts + 1  # the losers' parties and accounts rolled back


def test_two_claims_at_once_give_one_key(db: Database) -> None:
    world = make_world(db)
    reference, code = submit(db)
    with db.write() as s:
        approve_application(s, world.registrar, get_application(s, world.registrar, reference))
    keys, threads = count(db, ApiKey), 8
    barrier = threading.Barrier(threads)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        try:
            with db.write() as s:
                claim_application(s, reference, code)
            outcome = "won"
        except errors.ApplicationAlreadyClaimed:
            outcome = "already claimed"
        with lock:
            outcomes[outcome] += 1

    racers = [threading.Thread(target=claim) for _ in range(threads)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert outcomes == Counter({"won": 1, "already claimed": threads - 1})
    assert count(db, ApiKey) == keys + 1


# --- HTTP, client and CLI ---------------------------------------------------------------------------


@dataclass
class Live:
    db: Database
    world: World
    url: str

    def client(self, key: str | None = None) -> RegistryClient:
        return RegistryClient(self.url, key)

    def cir(self, *args: str, key: str = "", ok: bool = True) -> str:
        result = runner.invoke(app, list(args), env={"CIR_URL": self.url, "CIR_API_KEY": key})
        assert (result.exit_code == 0) == ok, result.output
        return result.output


@pytest.fixture
def live(db: Database, signer: LogSigner, tmp_path: Path) -> Iterator[Live]:
    world = make_world(db)
    settings = Settings(database_url=db.url, run_sequencer=True, sequencer_interval_s=0.05, blob_dir=tmp_path / "b")
    with live_server(db, signer, settings) as url:
        yield Live(db, world, url)


def refused(call: object, status: int, problem: str) -> RegistryAPIError:
    with pytest.raises(RegistryAPIError) as raised:
        call()  # type: ignore[operator]
    assert raised.value.status == status and raised.value.problem["type"] == f"urn:cir:problem:{problem}", \
        raised.value.problem
    return raised.value


def test_apply_approve_and_claim_over_http(live: Live) -> None:
    with live.client() as public:
        receipt = public.apply(HOUSEHOLD_JSON)
        assert receipt["status"] == "submitted" and receipt["id"].startswith("app_")
        refused(lambda: public.claim(receipt["id"], receipt["claim_code"]), 409, "application-not-approved")
        refused(lambda: public.applications(), 401, "unauthorized")
    with live.client(live.world.owner_key) as owner:
        refused(lambda: owner.applications(), 403, "role-required")
        refused(lambda: owner.application(receipt["id"]), 403, "role-required")
        refused(lambda: owner.approve_application(receipt["id"]), 403, "role-required")
    with live.client(live.world.registrar_key) as registrar:
        waiting = registrar.applications(status="submitted")["items"]
        assert [(a["id"], a["email"], a["kind"]) for a in waiting] == [
            (receipt["id"], "wang@example.com", "individual")]
        approved = registrar.approve_application(receipt["id"])
        assert approved["status"] == "approved" and approved["party"].startswith("pty_")
        refused(lambda: registrar.approve_application(receipt["id"]), 409, "application-already-decided")
        refused(lambda: registrar.reject_application(receipt["id"], "late"), 409, "application-already-decided")
        refused(lambda: registrar.application("app_nosuchapplication"), 404, "unknown-application")
    with live.client() as public:
        refused(lambda: public.claim(receipt["id"], "WRONG-CODE"), 403, "claim-code-mismatch")
        claimed = public.claim(receipt["id"], receipt["claim_code"])
        refused(lambda: public.claim(receipt["id"], receipt["claim_code"]), 409, "application-already-claimed")
        assert public.party(approved["party"])["name"] == "W" + "*" * 12  # masked for the public
    with live.client(claimed["api_key"]) as household:
        me = household.me()
        assert (me["id"], me["roles"], me["region"]) == (approved["party"], ["project_owner"], "CN-JS")


def test_bad_applications_get_one_problem_naming_each_field(live: Live) -> None:
    with live.client() as public:
        problem = refused(lambda: public.apply({**HOUSEHOLD_JSON, "region": "Jiangsu", "email": "nope",
                                                "consent": False}), 422, "invalid-application")
        detail = problem.problem["detail"]
        assert "region: 'Jiangsu' is not an ISO 3166-2" in detail and "email:" in detail and "consent:" in detail
        refused(lambda: public.apply({**HOUSEHOLD_JSON, "consent": "yes"}), 422, "request-validation-failed")
        refused(lambda: public.apply({**HOUSEHOLD_JSON, "role": "registrar"}), 422, "request-validation-failed")
        refused(lambda: public.apply({**HOUSEHOLD_JSON, "address": "x" * 301}), 422, "request-validation-failed")
        refused(lambda: public.apply({**HOUSEHOLD_JSON, "favourite": "tea"}), 422, "request-validation-failed")
    assert count(live.db, PartyApplication) == 0
    rejection = httpx.post(f"{live.url}/api/v1/applications/app_x/rejection", json={"reason": ""},
                           headers={"Authorization": f"Bearer {live.world.registrar_key}"})
    assert rejection.status_code == 422


def test_the_cli_applies_lists_decides_and_claims(live: Live) -> None:
    applied = live.cir("apply", "--name", "Li Na", "--region", "CN-JS", "--address", "12 Jinji Lake Road",
                       "--phone", "+86 512 6666 8888", "--role", "buyer", "--description",
                       "A household that offsets its car", "--consent")
    reference = applied.split()[1]
    code = applied.splitlines()[1].split()[2]
    assert "refused: 422" in live.cir("apply", "--name", "Li Na", "--region", "CN-JS", "--address", "x",
                                      "--phone", "1", "--role", "buyer", "--description", "y", ok=False)
    registrar = live.world.registrar_key
    assert reference in live.cir("application", "list", "--status", "submitted", key=registrar)
    assert "+86 512 6666 8888" in live.cir("application", "show", reference, key=registrar)
    assert "refused: 403" in live.cir("application", "list", key=live.world.owner_key, ok=False)
    assert "refused: 409" in live.cir("application", "claim", reference, "--code", code, ok=False)
    assert f"{reference} is approved: party pty_" in live.cir("application", "approve", reference, key=registrar)
    claimed = live.cir("application", "claim", reference, "--code", code)
    key = claimed.splitlines()[1].split()[2]
    with live.db.read() as s:
        party = authenticate(s, key)
        assert party is not None and party.role_set == {"buyer"}
        assert get_party(s, party.public_id).name == "Li Na"
    assert "refused: 409" in live.cir("application", "claim", reference, "--code", code, ok=False)

    other = live.cir("apply", "--name", "Zhou Wei", "--region", "CN-ZJ", "--address", "3 Bay Road, Taizhou",
                     "--email", "zhou@example.com", "--role", "project_owner", "--description", "5 kWp rooftop PV",
                     "--consent").split()[1]
    assert f"{other} is rejected" in live.cir("application", "reject", other, "--reason", "Outside the park",
                                              key=registrar)
