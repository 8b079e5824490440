"""Holes found by adversarial testing, one test each, on SQLite and PostgreSQL: a tonne is counted
once, credits follow what was signed, and only those who should see a report see it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from methodologies.plugin import AssetKind
from registry import credits, errors
from registry.accounts import BUFFER_POOL_ACCOUNT, get_account
from registry.db import Database
from registry.ledger import log
from registry.ledger.audit import audit
from registry.ledger.signing import LogSigner
from registry.models import Issuance, PartyKind, ProjectStatus, Role
from registry.parties import create_party
from registry.projects import ProjectDetails, get_project
from tests.verification_world import (
    PV_DATA,
    WETLAND_DATA,
    VerificationWorld,
    accredit,
    approve,
    make_verification_world,
    register_pv_project,
    register_wetland,
    submit_and_start,
    upload_report,
)
from tests.world import issue, validate
from verification.assets import AssetSpec
from verification.audit import audit_verification
from verification.errors import AssetAlreadyRegistered, MonitoringDataInvalid, UnknownReport
from verification.models import MonitoringReport, ProjectAsset, VerificationStatement
from verification.projects import change_project_status, register_project
from verification.reports import comment, get_readable_report, get_report


def reports_stored(db: Database) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(MonitoringReport)).scalar_one()


def pv_details(name: str) -> ProjectDetails:
    return ProjectDetails(name, "CIR-PV-DG", "1.0", "CN-JS", "Suzhou Industrial Park", capacity=1000.0,
                          capacity_unit="kWp", crediting_period_start=date(2023, 1, 1),
                          crediting_period_end=date(2032, 12, 31))


# --- 1. report data belongs to the project's own registered assets ------------------------------


def test_data_for_a_meter_the_project_did_not_register_is_refused_naming_it(db: Database) -> None:
    vw = make_verification_world(db)  # its project holds meter SH-1, which the example data names
    other = register_pv_project(db, vw.base, ["SIP-OTHER-1"], name="Another roof")
    with pytest.raises(MonitoringDataInvalid, match="SH-1"):
        upload_report(db, vw, project=other)
    assert reports_stored(db) == 0


def test_a_meter_credited_by_an_ended_project_cannot_be_credited_again_for_the_same_months(db: Database) -> None:
    vw = make_verification_world(db)
    first = upload_report(db, vw)
    approve(db, first, vw.cqc, submit_and_start(db, vw, first, vw.cqc))
    with db.write() as s:  # the first project ends; its meter is free for a new project …
        change_project_status(s, vw.base.owner, get_project(s, vw.project), ProjectStatus.WITHDRAWN)
    second = register_pv_project(db, vw.base, ["SH-1"], name="The same roof, registered again")
    with pytest.raises(MonitoringDataInvalid, match=rf"SH-1.*{first}"):  # … but not its credited months
        upload_report(db, vw, project=second)
    assert reports_stored(db) == 1


# --- 2. identifiers compare as the same meter whatever their case, width or spaces ---------------


@pytest.mark.parametrize("typed", ["sh-1", " SH-1 ", "ＳＨ－１"])
def test_the_same_meter_typed_differently_is_the_same_meter(db: Database, typed: str) -> None:
    vw = make_verification_world(db)  # SH-1 is active in its project
    with pytest.raises(AssetAlreadyRegistered, match="SH-1"), db.write() as s:
        register_project(s, vw.base.owner, pv_details("Copycat"), [AssetSpec(AssetKind.METER, typed)])


def test_the_database_refuses_a_differently_typed_duplicate_too(db: Database) -> None:
    vw = make_verification_world(db)
    with db.read() as s:
        project_id = get_project(s, vw.project).id
    with pytest.raises(IntegrityError), db.write() as s:
        s.execute(insert(ProjectAsset).values(project_id=project_id, kind="meter", identifier="sh-1",
                                              identifier_key="sh-1", active=True))


def test_data_rows_match_the_registered_meter_whatever_the_case(db: Database, tmp_path: Path) -> None:
    vw = make_verification_world(db)
    lower = tmp_path / "lower.csv"
    lower.write_text(PV_DATA.read_text().replace("SH-1,", "sh-1,"))
    report_id = upload_report(db, vw, data=lower)
    with db.read() as s:
        assert get_report(s, report_id).net_reduction_kg == 462_000


# --- 3. no credits for the future ------------------------------------------------------------------


def test_a_monitoring_period_that_has_not_ended_is_refused(db: Database) -> None:
    vw = make_verification_world(db)
    today = datetime.now(UTC).date()
    for period_end in (today, today + timedelta(days=400)):
        with pytest.raises(errors.InvalidRequest, match="has not ended"):
            upload_report(db, vw, period=(date(2023, 1, 1), period_end))
    assert reports_stored(db) == 0


def test_readings_dated_after_the_upload_are_refused(db: Database, tmp_path: Path) -> None:
    vw = make_verification_world(db)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with db.write() as s:
        project = register_project(s, vw.base.owner, ProjectDetails(
            "Recent roof", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou", capacity=10.0, capacity_unit="kWp",
            crediting_period_start=yesterday - timedelta(days=30),
            crediting_period_end=yesterday + timedelta(days=3000)), [AssetSpec(AssetKind.METER, "RECENT-1")])
        change_project_status(s, vw.base.owner, project, ProjectStatus.SUBMITTED)
        validate(s, vw.base.registrar, project)
    start = datetime.fromisoformat(f"{yesterday}T00:00:00+08:00")
    hours = [start + timedelta(hours=h) for h in range(24 * 3)]  # yesterday to the day after tomorrow
    data = tmp_path / "future.csv"
    data.write_text("meter_id,timestamp,energy_kwh\n" + "".join(f"RECENT-1,{t.isoformat()},1.0\n" for t in hours))
    with pytest.raises(MonitoringDataInvalid, match="after the upload"):
        upload_report(db, vw, data=data, project=project.public_id, period=(yesterday - timedelta(days=1), yesterday))
    assert reports_stored(db) == 0


# --- 4. every kg issued follows from the signed statement -------------------------------------------


def test_a_verifier_certifying_nothing_issues_nothing_to_the_buffer_either(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw, data=WETLAND_DATA, params={}, project=register_wetland(db, vw),
                              period=(date(2022, 7, 1), date(2023, 7, 1)))
    template = submit_and_start(db, vw, report_id, vw.cqc)
    template["verified_kg"] = {vintage: 0 for vintage in template["verified_kg"]}
    approve(db, report_id, vw.cqc, template)
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(Issuance)).scalar_one() == 0
        assert credits.account_balances(s, get_account(s, BUFFER_POOL_ACCOUNT).id or 0) == []


def test_a_lowered_figure_lowers_the_buffer_share_with_it(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw, data=WETLAND_DATA, params={}, project=register_wetland(db, vw),
                              period=(date(2022, 7, 1), date(2023, 7, 1)))
    template = submit_and_start(db, vw, report_id, vw.cqc)
    assert template["computed_kg"] == {"2022": 50_942, "2023": 50_111}
    template["verified_kg"] = {"2022": 25_471, "2023": 50_111}  # half of 2022
    approve(db, report_id, vw.cqc, template)
    with db.read() as s:
        buffer = dict(s.execute(select(Issuance.vintage, Issuance.quantity_kg).where(
            Issuance.account_id == get_account(s, BUFFER_POOL_ACCOUNT).id)).all())
    # Computed buffers 5,661 (2022) and 5,568 (2023); 2022's scales with the signed half, rounded down:
    # 5,661 × 25,471 / 50,942 = 2,830.5 → 2,830.
    assert buffer == {2022: 2_830, 2023: 5_568}


# --- 5. no retirement against a claim period before the credits existed ---------------------------


def test_credits_of_a_later_vintage_cannot_back_an_earlier_claim(db: Database) -> None:
    vw = make_verification_world(db)
    issue(db, vw.base, 5_000, vintage=2026)
    issue(db, vw.base, 1_000, vintage=2018)
    details = credits.RetirementDetails("Suzhou Precision Parts Factory", "organisation", "2019 claim",
                                        date(2019, 1, 1), date(2019, 12, 31))
    with pytest.raises(errors.CreditsNotAvailable, match="vintage 2026"), db.write() as s:
        credits.retire_credits(s, vw.base.owner, vw.base.owner_account, 2_000, credits.OldestFirstSelection(), details)
    with db.write() as s:  # the 2018 tonnes may back it
        retirement, _ = credits.retire_credits(s, vw.base.owner, vw.base.owner_account, 1_000,
                                               credits.OldestFirstSelection(), details)
    assert retirement.quantity_kg == 1_000


# --- 14. who may read a report and comment on it ------------------------------------------------


def test_only_the_reports_insiders_read_it_and_comment(db: Database) -> None:
    vw = make_verification_world(db)  # project in CN-JS under CIR-PV-DG
    report_id = upload_report(db, vw)
    with db.write() as s:
        unaccredited = create_party(s, vw.base.registrar, "Unaccredited Inspection Ltd", PartyKind.ORGANISATION,
                                    [Role.VERIFIER])
        stranger = create_party(s, vw.base.registrar, "Another factory", PartyKind.ORGANISATION, [Role.BUYER])
    out_of_scope = accredit(db, vw.base, "Zhejiang EV Verifier", ["CIR-EV-CHG"], ["CN-ZJ"])
    for outsider in (unaccredited, stranger, out_of_scope.party, vw.sgs.party):
        with pytest.raises(UnknownReport), db.read() as s:  # a draft: not yet anyone's to take
            get_readable_report(s, outsider, report_id)
    submit_and_start(db, vw, report_id, vw.cqc)
    for outsider in (unaccredited, stranger, out_of_scope.party):
        with pytest.raises(UnknownReport), db.read() as s:
            get_readable_report(s, outsider, report_id)
        with pytest.raises(UnknownReport), db.write() as s:
            comment(s, outsider, get_report(s, report_id), "let me in")
    for insider in (vw.base.owner, vw.cqc.party, vw.base.registrar):
        with db.read() as s:
            assert get_readable_report(s, insider, report_id).public_id == report_id


def test_an_accredited_verifier_in_scope_may_read_a_report_waiting_for_one(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    with db.write() as s:
        from verification.reports import submit_report
        submit_report(s, vw.base.owner, get_report(s, report_id))
    with db.read() as s:
        assert get_readable_report(s, vw.sgs.party, report_id).public_id == report_id


# --- 15. conflicts are checked on verifier actions only ------------------------------------------


def test_an_owner_who_is_also_a_verifier_may_submit_its_own_project(db: Database) -> None:
    vw = make_verification_world(db)
    with db.write() as s:
        both = create_party(s, vw.base.registrar, "Jiangsu Energy Services (owner and verifier)",
                            PartyKind.ORGANISATION, [Role.PROJECT_OWNER, Role.VERIFIER])
        project = register_project(s, both, pv_details("Own roof"), [AssetSpec(AssetKind.METER, "OWN-1")])
        change_project_status(s, both, project, ProjectStatus.SUBMITTED)
        assert project.status == ProjectStatus.SUBMITTED



# --- 7. the audit checks verification records too -------------------------------------------------


def audited(db: Database, signer: LogSigner) -> list[str]:
    log.sequence_all(db, signer)
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
        audit_verification(s, report)
    return report.problems


def verified_world(db: Database) -> VerificationWorld:
    vw = make_verification_world(db)
    pv = upload_report(db, vw)
    approve(db, pv, vw.cqc, submit_and_start(db, vw, pv, vw.cqc))
    wetland = upload_report(db, vw, data=WETLAND_DATA, params={}, project=register_wetland(db, vw),
                            period=(date(2022, 7, 1), date(2023, 7, 1)))
    template = submit_and_start(db, vw, wetland, vw.cqc)
    template["verified_kg"]["2023"] -= 1_000  # the verifier certifies less: the buffer follows
    approve(db, wetland, vw.cqc, template)
    return vw


def test_the_audit_passes_a_verified_registry(db: Database, signer: LogSigner) -> None:
    verified_world(db)
    assert audited(db, signer) == []


@pytest.mark.parametrize("column, value", [("net_reduction_kg", 462_001), ("quantification_json", None)])
def test_the_audit_catches_a_reports_figure_changed_behind_its_back(
        db: Database, signer: LogSigner, column: str, value: object) -> None:
    verified_world(db)
    with db.write() as s:
        report = s.execute(select(MonitoringReport).order_by(MonitoringReport.id)).scalars().first()
        if value is None:  # rewrite the stored quantification to match a larger figure
            quantification = json.loads(report.quantification_json)
            quantification["totals"]["net_reduction_kg"] += 1_000
            value = json.dumps(quantification).encode()
        s.execute(update(MonitoringReport).where(MonitoringReport.id == report.id).values({column: value}))
    assert any(report_problem(p) for p in audited(db, signer))


def report_problem(problem: str) -> bool:
    return problem.startswith("report ") and "net" in problem


def test_the_audit_catches_a_statement_or_its_issuance_changed(db: Database, signer: LogSigner) -> None:
    verified_world(db)
    with db.write() as s:
        row = s.execute(select(VerificationStatement).order_by(VerificationStatement.id)).scalars().first()
        s.execute(update(VerificationStatement).where(VerificationStatement.id == row.id)
                  .values(statement=bytes(row.statement).replace(b'"opinion":"', b'"opinion":"Not ')))
    problems = audited(db, signer)
    assert any("do not hash" in p for p in problems)
