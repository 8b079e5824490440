"""From meter to credit through the verification service, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from demo.data import rectangle_parcel
from methodologies.plugin import AssetKind
from registry import credits, errors
from registry.accounts import BUFFER_POOL_ACCOUNT, get_account
from registry.db import Database
from registry.ledger.models import LedgerEntry
from registry.models import Issuance, ProjectStatus
from registry.projects import ProjectDetails, get_project
from tests.verification_world import (
    PV_DATA,
    PV_PARAMS,
    WETLAND_DATA,
    VerificationWorld,
    Verifier,
    accredit,
    approve,
    make_verification_world,
    register_pv_project,
    register_wetland,
    report,
    submit_and_start,
    upload_report,
)
from tests.world import validate
from verification.accreditation import declare_affiliation
from verification.assets import AssetSpec, ExternalSpec, import_external_registrations
from verification.errors import (
    AssetAlreadyRegistered,
    ConflictOfInterest,
    CreditedElsewhere,
    CreditingPeriodInvalid,
    ExternalRegistrationTaken,
    InvalidReportTransition,
    MonitoringDataInvalid,
    NotAccredited,
    OutsideAccreditationScope,
    OverlappingMonitoringPeriod,
    StatementInvalid,
    StatementSignatureInvalid,
)
from verification.flows import statement_template
from verification.models import MonitoringReport, ProjectAsset, WorkflowEvent
from verification.projects import change_project_status, register_project
from verification.reports import get_report, replace_report_data, request_changes, start_verification, submit_report


def owner_active_kg(db: Database, account: str) -> int:
    with db.read() as s:
        rows = credits.account_balances(s, get_account(s, account).id)
    return rows[0]["active_kg"] if rows else 0


def issuance_count(db: Database) -> int:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Issuance)).scalar_one()


def test_meter_to_credit_with_a_signed_statement(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    draft = report(db, report_id)
    assert draft.status == "draft" and draft.net_reduction_kg == 462_000 and not draft.rejected_by_qa
    template = submit_and_start(db, vw, report_id, vw.cqc)
    assert template["computed_kg"] == {"2023": 462_000} and template["verified_kg"] == {"2023": 462_000}
    approval = approve(db, report_id, vw.cqc, template)
    assert report(db, report_id).status == "issued"
    assert [m.quantity_kg for m in approval.issued] == [462_000]
    assert owner_active_kg(db, vw.base.owner_account) == 462_000
    with db.read() as s:
        entry = json.loads(s.execute(select(LedgerEntry.body).where(LedgerEntry.kind == "issue")).scalar_one())
        trail = s.execute(select(WorkflowEvent.action).where(WorkflowEvent.subject == report_id)
                          .order_by(WorkflowEvent.id)).scalars().all()
    assert entry["verification_statement_sha256"] == approval.statement_sha256
    assert trail == ["created", "submitted", "verification started", "verified", "credits issued"]


def test_a_verifier_may_certify_less_never_more(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    template = submit_and_start(db, vw, report_id, vw.cqc)
    greedy = {**template, "verified_kg": {"2023": 462_001}}
    with pytest.raises(StatementInvalid, match="never more"):
        approve(db, report_id, vw.cqc, greedy)
    assert report(db, report_id).status == "under_verification" and issuance_count(db) == 0
    modest = {**template, "verified_kg": {"2023": 400_000}, "opinion": "meter SH-1 drift: 62 t withheld"}
    approve(db, report_id, vw.cqc, modest)
    assert owner_active_kg(db, vw.base.owner_account) == 400_000


def test_signature_failures_change_nothing(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    template = submit_and_start(db, vw, report_id, vw.cqc)
    signature = vw.cqc.sign(template)
    tampered = {**template, "opinion": "edited after signing"}
    cases = [
        (template, vw.sgs.sign(template), StatementSignatureInvalid),  # another verifier's key
        (tampered, signature, StatementSignatureInvalid),  # changed after signing
        (template, "not base64!", StatementSignatureInvalid),
        ({**template, "report": "rpt_other"}, None, StatementInvalid),  # a statement for another report
        ({**template, "data_sha256": "0" * 64}, None, StatementInvalid),  # other data
        ({**template, "signed_at": "2019-06-01T00:00:00Z"}, None, NotAccredited),  # before accreditation
        ({**template, "signed_at": "2999-01-01T00:00:00Z"}, None, StatementInvalid),
        ({**template, "extra": 1}, None, StatementInvalid),
    ]
    for statement, sig, error in cases:
        with pytest.raises(error):
            approve(db, report_id, vw.cqc, statement, sig)
    assert report(db, report_id).status == "under_verification" and issuance_count(db) == 0
    approve(db, report_id, vw.cqc, template, signature)
    assert issuance_count(db) == 1


def test_a_replayed_or_stale_statement_is_refused(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    template = submit_and_start(db, vw, report_id, vw.cqc)
    stale = copy.deepcopy(template)
    with db.write() as s:
        request_changes(s, vw.cqc.party, get_report(s, report_id), "recalibrate SH-1")
    with db.write() as s:  # the owner uploads corrected data: a new revision
        replace_report_data(s, vw.base.owner, get_report(s, report_id), WETLAND_DATA.parent.parent
                                     / "CIR-PV-DG" / "data.csv", "1" * 64, "data-v2.csv", PV_PARAMS, 10**7)
    template = submit_and_start_again(db, vw, report_id)
    with pytest.raises(StatementInvalid):  # signed for revision 1
        approve(db, report_id, vw.cqc, stale)
    approve(db, report_id, vw.cqc, template)
    with pytest.raises(InvalidReportTransition):  # the same statement again
        approve(db, report_id, vw.cqc, template)
    assert issuance_count(db) == 1


def submit_and_start_again(db: Database, vw: VerificationWorld, report_id: str) -> dict[str, Any]:
    with db.write() as s:
        submit_report(s, vw.base.owner, get_report(s, report_id))
    with db.write() as s:
        start_verification(s, vw.cqc.party, get_report(s, report_id))
    with db.read() as s:
        template = statement_template(s, vw.cqc.party, get_report(s, report_id))
    return template | {"opinion": "Reasonable assurance after the recalibration."}


def test_scope_accreditation_and_conflicts_of_interest(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    with db.write() as s:
        submit_report(s, vw.base.owner, get_report(s, report_id))
    expired = accredit(db, vw.base, "Lapsed Verification Ltd", ["*"], ["CN-JS"], date(2020, 1, 1), date(2021, 1, 1))
    elsewhere = accredit(db, vw.base, "Guangdong Verifier", ["*"], ["CN-GD"])
    with db.write() as s:
        declare_affiliation(s, vw.sgs.party, vw.base.owner.public_id)
    for verifier, error in ((expired, NotAccredited), (elsewhere, OutsideAccreditationScope),
                            (vw.sgs, ConflictOfInterest)):
        with pytest.raises(error), db.write() as s:
            start_verification(s, verifier.party, get_report(s, report_id))
    with pytest.raises(errors.RoleRequired), db.write() as s:  # the owner is no verifier
        start_verification(s, vw.base.owner, get_report(s, report_id))
    assert report(db, report_id).status == "submitted"


def test_only_the_assigned_verifier_may_decide(db: Database) -> None:
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    template = submit_and_start(db, vw, report_id, vw.cqc)
    with pytest.raises(errors.PermissionDenied):
        approve(db, report_id, vw.sgs, {**template, "verifier": {"party": vw.sgs.party.public_id}})
    with pytest.raises(errors.PermissionDenied), db.write() as s:
        request_changes(s, vw.sgs.party, get_report(s, report_id), "not mine")


def test_racing_verifiers_issue_credits_once(db: Database) -> None:
    """Two verifiers race to take the report; each then tries to approve it: one issuance."""
    vw = make_verification_world(db)
    report_id = upload_report(db, vw)
    with db.write() as s:
        submit_report(s, vw.base.owner, get_report(s, report_id))
    barrier, outcomes = threading.Barrier(2), []

    def race(verifier: Verifier) -> None:
        barrier.wait()
        try:
            with db.write() as s:
                start_verification(s, verifier.party, get_report(s, report_id))
            with db.read() as s:
                template = statement_template(s, verifier.party, get_report(s, report_id))
            approve(db, report_id, verifier, template | {"opinion": "Reasonable assurance."})
            outcomes.append("issued")
        except (InvalidReportTransition, errors.PermissionDenied):
            outcomes.append("lost")

    threads = [threading.Thread(target=race, args=(v,)) for v in (vw.cqc, vw.sgs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["issued", "lost"]
    assert issuance_count(db) == 1 and owner_active_kg(db, vw.base.owner_account) == 462_000


def test_an_active_projects_meter_cannot_join_another_project(db: Database) -> None:
    vw = make_verification_world(db)
    with pytest.raises(AssetAlreadyRegistered, match=vw.project):
        register_pv_project(db, vw.base, ["SH-1"], name="Copycat rooftop")
    with db.write() as s:  # the first project ends: its meter is free again
        project = get_project(s, vw.project)
        change_project_status(s, vw.base.owner, project, ProjectStatus.WITHDRAWN)
    register_pv_project(db, vw.base, ["SH-1"], name="Successor rooftop")


def test_the_database_refuses_a_second_active_holder_of_an_asset(db: Database) -> None:
    vw = make_verification_world(db)
    with pytest.raises(IntegrityError), db.write() as s:
        other = get_project(s, vw.project)
        s.execute(insert(ProjectAsset).values(project_id=other.id, kind=AssetKind.METER.value, identifier="SH-1",
                                              active=True))


def test_monitoring_periods_never_overlap(db: Database) -> None:
    vw = make_verification_world(db)
    first = upload_report(db, vw, period=(date(2023, 1, 1), date(2023, 12, 31)))
    with pytest.raises(OverlappingMonitoringPeriod, match=first):
        upload_report(db, vw, period=(date(2023, 12, 1), date(2024, 3, 31)))
    with pytest.raises(IntegrityError, match="monitoring_report_no_overlap"), db.write() as s:
        row = get_report(s, first)
        s.execute(insert(MonitoringReport).values(
            public_id="rpt_forged", project_id=row.project_id, period_start=date(2023, 6, 1),
            period_end=date(2023, 6, 30), status="draft", revision=1, data_sha256=row.data_sha256,
            data_filename="x.csv", data_bytes=1, params_json=b"{}", quantification_json=b"{}", net_reduction_kg=0,
            rejected_by_qa=False, issue_to_account_id=row.issue_to_account_id))


def test_crediting_periods_follow_the_methodology(db: Database) -> None:
    vw = make_verification_world(db)
    too_long = ProjectDetails("Long PV", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou",
                                      crediting_period_start=date(2023, 1, 1), crediting_period_end=date(2033, 1, 1))
    with pytest.raises(CreditingPeriodInvalid, match="10 years"), db.write() as s:
        register_project(s, vw.base.owner, too_long, [])
    wetland = ProjectDetails("Qinhu wetland", "CIR-WET-SINK", "1.0", "CN-JS", "Taizhou",
                                     crediting_period_start=date(2022, 1, 1), crediting_period_end=date(2051, 12, 31))
    with db.write() as s:
        assert register_project(s, vw.base.owner, wetland, []).status == "draft"
    leap = ProjectDetails("Leap-day PV", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou",
                                  crediting_period_start=date(2024, 2, 29), crediting_period_end=date(2034, 2, 28))
    with pytest.raises(CreditingPeriodInvalid, match="before 2034-02-28"), db.write() as s:
        register_project(s, vw.base.owner, leap, [])
    with db.write() as s:
        register_project(s, vw.base.owner, replace(leap, crediting_period_end=date(2034, 2, 27)), [])
    unknown = ProjectDetails("?", "CIR-NOPE", "1.0", "CN-JS", "Suzhou",
                                     crediting_period_start=date(2023, 1, 1), crediting_period_end=date(2024, 1, 1))
    with pytest.raises(errors.InvalidRequest, match="no methodology"), db.write() as s:
        register_project(s, vw.base.owner, unknown, [])


def test_bad_monitoring_data_is_refused_and_nothing_is_stored(db: Database, tmp_path: Path) -> None:
    vw = make_verification_world(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("meter_id,timestamp,energy_kwh\nSH-1,2023-04-01T08:00:00,12.5\n")  # naive timestamp
    with pytest.raises(MonitoringDataInvalid, match="offset"):
        upload_report(db, vw, data=bad)
    with pytest.raises(MonitoringDataInvalid, match="outside the monitoring period"):
        upload_report(db, vw, period=(date(2023, 1, 1), date(2023, 3, 31)))
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(MonitoringReport)).scalar_one() == 0


def test_wetland_buffer_share_goes_to_the_buffer_pool(db: Database) -> None:
    vw = make_verification_world(db)
    wetland = register_wetland(db, vw)
    report_id = upload_report(db, vw, data=WETLAND_DATA, params={}, project=wetland,
                              period=(date(2022, 7, 1), date(2023, 7, 1)))
    template = submit_and_start(db, vw, report_id, vw.cqc)
    assert template["computed_kg"] == {"2022": 50_942, "2023": 50_111}
    approve(db, report_id, vw.cqc, template)
    assert owner_active_kg(db, vw.base.owner_account) == 101_053
    with db.read() as s:
        buffer = credits.account_balances(s, get_account(s, BUFFER_POOL_ACCOUNT).id)
    assert buffer[0]["active_kg"] == 11_229
    # A later storm loss: the registrar cancels the lost tonnes from the buffer pool.
    with db.write() as s:
        credits.cancel_credits(s, vw.base.registrar, BUFFER_POOL_ACCOUNT, 5_000,
                               credits.OldestFirstSelection(), "2026 storm surge: 5 t of marsh carbon lost")
    with db.read() as s:
        buffer = credits.account_balances(s, get_account(s, BUFFER_POOL_ACCOUNT).id)
    assert buffer[0]["active_kg"] == 6_229


def test_external_registrations_and_imported_lists_block_double_crediting(db: Database) -> None:
    vw = make_verification_world(db)
    with db.write() as s:
        added = import_external_registrations(s, vw.base.registrar, [
            ("CCER", "CCER-2017-0421", "project", "Suzhou rooftop PV bundle, CCER 2017"),
            ("GEC", "GEC-METER-88", "meter", "green-certificate metering point"),
            ("CCER", "CCER-2017-0421", "project", "listed twice: kept once"),
        ])
    assert added == 2
    details = ProjectDetails("Declares CCER", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou",
                                     crediting_period_start=date(2024, 1, 1), crediting_period_end=date(2033, 1, 1))
    with pytest.raises(CreditedElsewhere, match="CCER-2017-0421"), db.write() as s:
        register_project(s, vw.base.owner, details, [], external=[ExternalSpec("ccer",
                                                                                                 "CCER-2017-0421")])
    with pytest.raises(CreditedElsewhere, match="GEC"), db.write() as s:
        register_project(s, vw.base.owner, details, [AssetSpec(AssetKind.METER, "GEC-METER-88")])
    with db.write() as s:
        first = register_project(s, vw.base.owner, details, [],
                                          external=[ExternalSpec("VCS", "VCS-1234")])
    with pytest.raises(ExternalRegistrationTaken, match=first.public_id), db.write() as s:
        register_project(s, vw.base.owner, details, [], external=[ExternalSpec("VCS", "VCS-1234")])
    with pytest.raises(errors.RoleRequired), db.write() as s:
        import_external_registrations(s, vw.base.owner, [("CCER", "X", "project", "")])


def test_green_certificate_energy_must_be_stated_and_is_deducted(db: Database, tmp_path: Path) -> None:
    vw = make_verification_world(db)
    sh2 = tmp_path / "sh-2.csv"  # the example data, as read from this project's meter
    sh2.write_text(PV_DATA.read_text().replace("SH-1,", "SH-2,"))
    with db.write() as s:
        project = register_project(s, vw.base.owner, ProjectDetails(
            "Rooftop with green certificates", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou",
            crediting_period_start=date(2023, 1, 1), crediting_period_end=date(2032, 12, 31)),
            [AssetSpec(AssetKind.METER, "SH-2")], external=[ExternalSpec("GEC", "GEC-ACCT-7")])
        change_project_status(s, vw.base.owner, project, ProjectStatus.SUBMITTED)
        validate(s, vw.cqc.party, project)
        gec_project = project.public_id
    with pytest.raises(MonitoringDataInvalid, match="green_certificate_kwh_by_year"):
        upload_report(db, vw, data=sh2, project=gec_project)
    claimed = {**PV_PARAMS, "green_certificate_kwh_by_year": {"2023": "100000"}}
    report_id = upload_report(db, vw, data=sh2, project=gec_project, params=claimed)
    assert report(db, report_id).net_reduction_kg == 462_000 - 42_000  # 100 MWh × 0.42 kg/kWh deducted


def test_parcels_may_not_overlap_another_active_projects_parcels(db: Database) -> None:
    vw = make_verification_world(db)
    details = ProjectDetails("Wetland A", "CIR-WET-SINK", "1.0", "CN-ZJ", "Taizhou Bay",
                                     crediting_period_start=date(2024, 7, 1), crediting_period_end=date(2054, 6, 30))
    with db.write() as s:
        first = register_project(s, vw.base.owner, details, [AssetSpec(
            AssetKind.PARCEL, "TZB-1", area_m2=1_000_000, geometry=rectangle_parcel(121.50, 28.60, 1_000, 1_000))])
    overlapping = rectangle_parcel(121.505, 28.605, 1_000, 1_000)
    collision = f"overlaps parcel TZB-1 of active project {first.public_id}"
    with pytest.raises(AssetAlreadyRegistered, match=collision), db.write() as s:
        register_project(s, vw.base.owner, details, [AssetSpec(
            AssetKind.PARCEL, "TZB-2", area_m2=1_000_000, geometry=overlapping)])
    east_edge = rectangle_parcel(121.50, 28.60, 1_000, 1_000)["coordinates"][0][1][0]
    with db.write() as s:  # sharing an edge is not overlapping
        register_project(s, vw.base.owner, details, [AssetSpec(
            AssetKind.PARCEL, "TZB-3", area_m2=1_000_000, geometry=rectangle_parcel(east_edge, 28.60, 1_000, 1_000))])
    for bad in ({"type": "Point", "coordinates": [121.5, 28.6]}, {"type": "Polygon", "coordinates": "x"}, None,
                {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}):
        with pytest.raises(errors.InvalidRequest), db.write() as s:
            register_project(s, vw.base.owner, details, [AssetSpec(
                AssetKind.PARCEL, "TZB-9", area_m2=10, geometry=bad)])
