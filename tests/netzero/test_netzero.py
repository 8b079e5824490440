"""Net zero on both databases: from activity data to a verified inventory, retirements for the claim,
and a certificate whose proof bundle verifies offline; every refusal changes nothing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from netzero import certificates, claims, errors, inventories
from netzero.audit import audit_netzero
from netzero.facilities import register_facility
from netzero.models import Certificate, CertificateStatus, ClaimRetirement, GreenCertificateClaim, Inventory
from registry import credits
from registry import errors as registry_errors
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.ledger.audit import audit
from registry.ledger.log import sequence_all
from registry.ledger.signing import LogSigner
from registry.ledger.verify import VerificationError, parse_verifier_key, verify_certificate_bundle
from registry.models import Retirement
from registry.parties import create_party
from tests.netzero.netzero_world import (
    HEADER,
    NetZeroWorld,
    activity_csv,
    file,
    give_factory,
    last_year,
    make_netzero_world,
    period,
    verified_claim,
    verify,
)
from verification.audit import audit_verification

VALIDITY_MONTHS = 12


@pytest.fixture
def nz(db: Database) -> NetZeroWorld:
    return make_netzero_world(db)


def residual_of(db: Database, claim_id: str) -> int:
    with db.read() as s:
        return claims.coverage(s, claims.get_claim(s, claim_id)).residual_kg


def retire(db: Database, nz: NetZeroWorld, claim_id: str, quantity_kg: int) -> str:
    with db.write() as s:
        retirement, _ = claims.retire_for_claim(s, nz.base.factory, claims.get_claim(s, claim_id),
                                                nz.base.factory_account, quantity_kg, OldestFirstSelection())
        return retirement.public_id


def certify(db: Database, nz: NetZeroWorld, claim_id: str) -> str:
    with db.write() as s:
        return certificates.issue_certificate(s, nz.base.factory, claims.get_claim(s, claim_id),
                                              VALIDITY_MONTHS).public_id


def audit_all(db: Database, signer: LogSigner) -> list[str]:
    with db.snapshot() as s:
        report = audit(s, signer.verifier_key)
        audit_verification(s, report)
        audit_netzero(s, report)
    return report.problems


def counts(db: Database) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.execute(select(func.count()).select_from(model)).scalar_one()
                     for model in (Inventory, GreenCertificateClaim, Retirement, ClaimRetirement, Certificate))


def test_a_factory_goes_from_activity_data_to_a_certificate_anyone_verifies_offline(
        db: Database, nz: NetZeroWorld, signer: LogSigner) -> None:
    inventory_id = file(db, nz)
    with db.read() as s:
        emissions = inventories.emissions_of(inventories.get_inventory(s, inventory_id))
    # 10 t diesel (43.330 GJ/t × 0.0202 tC/GJ × 98 % × 44/12) and 100 MWh at the southern grid factor.
    assert emissions.scope1 == 31_452  # 31,451.22… rounded up
    assert emissions.scope2_location == emissions.scope2_market > 0
    assert emissions.residual == emissions.scope1 + emissions.scope2_market
    verify(db, nz, inventory_id)
    with db.write() as s:
        claim_id = claims.open_claim(s, nz.base.factory, nz.facility, period()[0]).public_id
    residual = residual_of(db, claim_id)
    give_factory(db, nz, residual + 5_000)
    first = retire(db, nz, claim_id, residual - 1_000)
    with pytest.raises(errors.ClaimNotCovered, match="retire 1,000 kg more"):
        certify(db, nz, claim_id)
    second = retire(db, nz, claim_id, 1_000)
    certificate_id = certify(db, nz, claim_id)
    sequence_all(db, signer)

    with db.read() as s:
        certificate = certificates.get_certificate(s, certificate_id)
        assert certificates.certificate_status(s, certificate) == CertificateStatus.VALID
        document = certificates.document_of(certificate)
        bundle = certificates.certificate_proof_bundle(s, certificate)
    assert document["covered_kg"] == residual and document["emissions_kg"]["residual"] == residual
    assert [r["id"] for r in document["retirements"]] == [first, second]
    assert {line["region"] for line in document["offsets"]} == {"CN-JS"}
    assert document["cross_regional_kg"] == residual and document["removals_kg"] == 0
    assert sum(line["share_bp"] for line in document["offsets"]) <= 10_000
    key = parse_verifier_key(signer.verifier_key)
    proved, retirements = verify_certificate_bundle(bundle, key)
    assert proved["number"] == document["number"] and [r["claim"] for r in retirements] == [claim_id, claim_id]

    tampered = json.loads(json.dumps(bundle))
    tampered["entries"][0]["entry"] = tampered["entries"][0]["entry"].replace(
        f'"covered_kg":{residual}', f'"covered_kg":{residual + 1}')
    with pytest.raises(VerificationError):
        verify_certificate_bundle(tampered, key)
    dropped = json.loads(json.dumps(bundle))
    del dropped["entries"][2]
    with pytest.raises(VerificationError, match="not exactly those the certificate names"):
        verify_certificate_bundle(dropped, key)
    assert audit_all(db, signer) == []


def test_bad_activity_data_and_periods_are_refused_and_change_nothing(db: Database, nz: NetZeroWorld) -> None:
    file(db, nz)
    before = counts(db)
    start, end = period()
    bad_files = {
        "unknown factor": HEADER.encode() + b"X,mobile_combustion,Diesel,10,t,DIESELL,,,,,,\n",
        "negative": activity_csv(diesel_t="-3"),
        "unknown unit": activity_csv(electricity_kwh="100000").replace(b",kWh,", b",kWhr,"),
    }
    for name, content in bad_files.items():
        with pytest.raises(errors.ActivityDataInvalid, match="line"), db.write() as s:
            inventories.file_inventory(s, nz.base.factory, nz.facility, start, end, content, "0" * 64, f"{name}.csv")
    periods = {"not twelve months": (start, date(start.year, 6, 30)),
               "not over": (date(last_year() + 1, 1, 1), date(last_year() + 1, 12, 31))}
    for first, last in periods.values():
        with pytest.raises(errors.ReportingPeriodInvalid), db.write() as s:
            inventories.file_inventory(s, nz.base.factory, nz.facility, first, last, activity_csv(), "0" * 64,
                                       "activity.csv")
    assert counts(db) == before


def test_a_green_certificate_counts_once_in_the_whole_registry(db: Database, nz: NetZeroWorld) -> None:
    gec = "GEC,green_certificate,Green certificates bought,50,MWh,,,,,GEC-2025-GD-000123,,certificate scan\n"
    inventory_id = file(db, nz, activity_csv(extra=gec))
    with db.read() as s:
        emissions = inventories.emissions_of(inventories.get_inventory(s, inventory_id))
    assert emissions.scope2_market < emissions.scope2_location and emissions.renewable_share_bp == 5_000
    # A restatement of the same facility and period keeps its own certificate.
    file(db, nz, activity_csv(diesel_t="11", extra=gec))
    with db.write() as s:
        second = register_facility(s, nz.base.factory, "Foshan plant", "CN-GD", "Foshan", "Ready-mix concrete", "I")
        second_id = second.public_id
    before = counts(db)
    start, end = period()
    written_differently = gec.replace("GEC-2025-GD-000123", " gec-2025-gd-000123 ")
    with pytest.raises(errors.GreenCertificateClaimed, match="already claimed"), db.write() as s:
        inventories.file_inventory(s, nz.base.factory, second_id, start, end, activity_csv(extra=written_differently),
                                   "1" * 64, "activity.csv")
    assert counts(db) == before


def test_a_certificate_from_a_pv_project_here_that_does_not_deduct_it_is_flagged(
        db: Database, nz: NetZeroWorld) -> None:
    gec = (f"GEC,green_certificate,From a Suzhou roof,20,MWh,,,,,GEC-JS-77,{nz.base.project},certificate scan\n")
    claim_id = verified_claim(db, nz, activity_csv(extra=gec))
    with db.read() as s:
        inventory = claims.verified_inventory(s, claims.get_claim(s, claim_id))[0]
        flags = inventories.green_certificate_flags(s, inventory)
    assert len(flags) == 1 and nz.base.project in flags[0]
    give_factory(db, nz, residual_of(db, claim_id))
    retire(db, nz, claim_id, residual_of(db, claim_id))
    before = counts(db)
    with pytest.raises(errors.GreenCertificateFlagged, match="GEC-JS-77"):
        certify(db, nz, claim_id)
    assert counts(db) == before


def test_claim_rules_refuse_and_change_nothing(db: Database, nz: NetZeroWorld) -> None:
    unverified = file(db, nz)
    start, _ = period()
    with pytest.raises(errors.InventoryNotVerified), db.write() as s:
        claims.open_claim(s, nz.base.factory, nz.facility, start)
    verify(db, nz, unverified)
    with db.write() as s:
        claim_id = claims.open_claim(s, nz.base.factory, nz.facility, start).public_id
    give_factory(db, nz, 2_000, vintage=last_year() + 1)  # a vintage after the period
    with db.write() as s:
        stranger = create_party(s, nz.base.registrar, "Another factory", "organisation", ["buyer"])
    before = counts(db)
    with pytest.raises(registry_errors.CreditsNotAvailable, match="vintage"):
        retire(db, nz, claim_id, 1_000)
    with pytest.raises(registry_errors.PermissionDenied), db.write() as s:
        claims.retire_for_claim(s, stranger, claims.get_claim(s, claim_id), nz.base.factory_account, 1_000,
                                OldestFirstSelection())
    assert counts(db) == before


def test_retirements_after_the_window_and_retirements_already_backing_a_claim_are_refused(
        db: Database, nz: NetZeroWorld) -> None:
    old_claim = verified_claim(db, nz, year=last_year() - 1)  # its window closed on 31 December last year
    current = verified_claim(db, nz)
    give_factory(db, nz, 3_000, vintage=last_year() - 1)
    before = counts(db)
    with pytest.raises(errors.RetirementWindowClosed, match="12 months"):
        retire(db, nz, old_claim, 1_000)
    assert counts(db) == before
    backing = retire(db, nz, current, 1_000)
    with db.write() as s:
        other = claims.get_claim(s, old_claim)
        with pytest.raises(errors.RetirementNotEligible, match="already backs"):
            claims.attach_retirement(s, nz.base.factory, other, backing)
    with db.write() as s:
        plain, _ = credits.retire_credits(s, nz.base.factory, nz.base.factory_account, 1_000, OldestFirstSelection(),
                                          credits.RetirementDetails(
                                              "Guangzhou Ready-Mix Plant No. 2", "organisation", "offsets",
                                              *period()))
        claims.attach_retirement(s, nz.base.factory, claims.get_claim(s, current), plain.public_id)
    with db.read() as s:
        assert claims.coverage(s, claims.get_claim(s, current)).covered_kg == 2_000


def test_a_restated_inventory_leaves_the_certificate_insufficient_until_topped_up(
        db: Database, nz: NetZeroWorld, signer: LogSigner) -> None:
    claim_id = verified_claim(db, nz)
    residual = residual_of(db, claim_id)
    give_factory(db, nz, residual * 2)
    retire(db, nz, claim_id, residual)
    first = certify(db, nz, claim_id)
    with pytest.raises(errors.CertificateAlreadyIssued):
        certify(db, nz, claim_id)
    verify(db, nz, file(db, nz, activity_csv(diesel_t="12")))  # restated upward: version 2
    restated = residual_of(db, claim_id)
    assert restated > residual
    with db.read() as s:
        assert certificates.certificate_status(s, certificates.get_certificate(s, first)) == \
            CertificateStatus.INSUFFICIENT
        listed = s.execute(certificates.certificates_query(
            certificates.CertificateFilter(status=CertificateStatus.INSUFFICIENT))).all()
        assert [row[0].public_id for row in listed] == [first]
    retire(db, nz, claim_id, restated - residual)
    second = certify(db, nz, claim_id)
    with db.read() as s:
        old, new = certificates.get_certificate(s, first), certificates.get_certificate(s, second)
        assert certificates.certificate_status(s, old) == CertificateStatus.REVOKED
        assert "replaced by certificate" in old.revoked_reason and new.number.endswith("-2")
        assert certificates.certificate_status(s, new) == CertificateStatus.VALID
    sequence_all(db, signer)
    assert audit_all(db, signer) == []


def test_the_registrar_revokes_a_certificate_with_a_public_reason(
        db: Database, nz: NetZeroWorld, signer: LogSigner) -> None:
    claim_id = verified_claim(db, nz)
    give_factory(db, nz, residual_of(db, claim_id))
    retire(db, nz, claim_id, residual_of(db, claim_id))
    certificate_id = certify(db, nz, claim_id)
    with pytest.raises(registry_errors.RoleRequired), db.write() as s:
        certificates.revoke_certificate(s, nz.base.factory, certificates.get_certificate(s, certificate_id), "mine")
    with db.write() as s:
        certificates.revoke_certificate(s, nz.base.registrar, certificates.get_certificate(s, certificate_id),
                                        "the inventory omitted a kiln")
    with db.read() as s:
        certificate = certificates.get_certificate(s, certificate_id)
        assert certificates.certificate_status(s, certificate) == CertificateStatus.REVOKED
        assert certificate.revoked_reason == "the inventory omitted a kiln"
    sequence_all(db, signer)
    assert audit_all(db, signer) == []


def test_the_audit_sees_a_certificate_changed_in_the_database(
        db: Database, nz: NetZeroWorld, signer: LogSigner) -> None:
    claim_id = verified_claim(db, nz)
    give_factory(db, nz, residual_of(db, claim_id))
    retire(db, nz, claim_id, residual_of(db, claim_id))
    certificate_id = certify(db, nz, claim_id)
    sequence_all(db, signer)
    with db.write() as s:
        certificate = certificates.get_certificate(s, certificate_id)
        certificate.document = certificate.document.replace(b'"boundary":"I"', b'"boundary":"II"')
    assert any("differs from its ledger entry" in problem for problem in audit_all(db, signer))


def _race(db: Database, attempts: list[Callable[[Session], object]]) -> Counter[str]:
    barrier = threading.Barrier(len(attempts))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(attempt: Callable[[Session], object]) -> None:
        barrier.wait()
        try:
            with db.write() as s:
                attempt(s)
            outcome = "won"
        except registry_errors.RegistryError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_claims_racing_for_one_retirement_or_the_last_credits_one_wins(db: Database, nz: NetZeroWorld) -> None:
    first = verified_claim(db, nz)
    with db.write() as s:
        other_facility = register_facility(s, nz.base.factory, "Foshan plant", "CN-GD", "Foshan", "Concrete", "I")
        other_id = other_facility.public_id
    nz_other = NetZeroWorld(nz.base, nz.verifier, other_id)
    second = verified_claim(db, nz_other)
    give_factory(db, nz, 1_000)
    with db.write() as s:
        plain, _ = credits.retire_credits(s, nz.base.factory, nz.base.factory_account, 400, OldestFirstSelection(),
                                          credits.RetirementDetails("Plants", "organisation", "offsets", *period()))
        plain_id = plain.public_id

    def attach(claim_id: str) -> Callable[[Session], object]:
        return lambda s: claims.attach_retirement(s, nz.base.factory, claims.get_claim(s, claim_id), plain_id)

    assert _race(db, [attach(first), attach(second)]) == Counter({"won": 1, "RetirementNotEligible": 1})

    def retire_last(claim_id: str) -> Callable[[Session], object]:
        return lambda s: claims.retire_for_claim(s, nz.base.factory, claims.get_claim(s, claim_id),
                                                 nz.base.factory_account, 600, OldestFirstSelection())

    outcomes = _race(db, [retire_last(first), retire_last(second)])
    assert outcomes["won"] == 1 and sum(outcomes.values()) == 2
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(ClaimRetirement)).scalar_one() == 2
