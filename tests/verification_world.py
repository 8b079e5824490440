"""A registry with accredited verifiers and a registered PV project, to walk from meter to credit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demo.data import rectangle_parcel
from methodologies.plugin import AssetKind
from registry.db import Database
from registry.models import Party, PartyKind, ProjectStatus, Role
from registry.parties import create_party
from registry.projects import ProjectDetails, get_project
from tests.world import World, make_world, validate
from verification.accreditation import accredit_verifier
from verification.assets import AssetSpec
from verification.flows import Approval, approve_report, statement_template
from verification.models import MonitoringReport
from verification.projects import change_project_status, register_project
from verification.reports import create_report, get_report, start_verification, submit_report
from verification.statements import public_key_pem, sign_statement

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "methodologies" / "examples"
PV_DATA = EXAMPLES / "CIR-PV-DG" / "data.csv"  # 1 MW × 1,100 h at a pinned 0.42 kg/kWh = 462,000 kg
PV_PARAMS: dict[str, Any] = json.loads((EXAMPLES / "CIR-PV-DG" / "params.json").read_text())
WETLAND_DATA = EXAMPLES / "CIR-WET-SINK" / "data.csv"
MAX_BYTES = 10 * 1024 * 1024


@dataclass
class Verifier:
    party: Party
    key: Ed25519PrivateKey
    accreditation: str

    def sign(self, statement: dict[str, Any]) -> str:
        return sign_statement(statement, self.key)


@dataclass
class VerificationWorld:
    base: World
    cqc: Verifier  # accredited for every methodology in CN-JS and CN-SH
    sgs: Verifier  # accredited for PV only, in CN-JS and CN-SH
    project: str


def accredit(db: Database, world: World, name: str, methodologies: list[str], regions: list[str],
             valid_from: date = date(2020, 1, 1), valid_until: date = date(2035, 12, 31)) -> Verifier:
    key = Ed25519PrivateKey.generate()
    with db.write() as s:
        party = create_party(s, world.registrar, name, PartyKind.ORGANISATION, [Role.VERIFIER])
        accreditation = accredit_verifier(s, world.registrar, party.public_id, public_key_pem(key),
                                                   methodologies, regions, valid_from, valid_until)
        return Verifier(party, key, accreditation.public_id)


def register_pv_project(db: Database, world: World, meters: list[str], name: str = "SIP rooftop PV") -> str:
    with db.write() as s:
        project = register_project(s, world.owner, ProjectDetails(
            name=name, methodology_id="CIR-PV-DG", methodology_version="1.0", region="CN-JS",
            location="Suzhou Industrial Park", capacity=1000.0, capacity_unit="kWp",
            crediting_period_start=date(2023, 1, 1), crediting_period_end=date(2032, 12, 31),
        ), [AssetSpec(AssetKind.METER, m) for m in meters])
        change_project_status(s, world.owner, project, ProjectStatus.SUBMITTED)
        validate(s, world.registrar, project)
        return project.public_id


def make_verification_world(db: Database) -> VerificationWorld:
    world = make_world(db)
    cqc = accredit(db, world, "China Quality Certification Centre", ["*"], ["CN-JS", "CN-SH"])
    sgs = accredit(db, world, "SGS-CSTC Standards Technical Services", ["CIR-PV-DG"], ["CN-JS", "CN-SH"])
    return VerificationWorld(world, cqc, sgs, register_pv_project(db, world, ["SH-1"]))


def upload_report(db: Database, vw: VerificationWorld, data: Path = PV_DATA,
                  params: dict[str, Any] | None = None, project: str | None = None,
                  period: tuple[date, date] = (date(2023, 1, 1), date(2023, 12, 31))) -> str:
    with db.write() as s:
        report = create_report(
            s, vw.base.owner, get_project(s, project or vw.project), period[0], period[1], data,
            hashlib.sha256(data.read_bytes()).hexdigest(), data.name, PV_PARAMS if params is None else params,
            vw.base.owner_account, MAX_BYTES)
        return report.public_id


def report(db: Database, public_id: str) -> MonitoringReport:
    with db.read() as s:
        return get_report(s, public_id)


def submit_and_start(db: Database, vw: VerificationWorld, report_id: str, verifier: Verifier) -> dict[str, Any]:
    """Submit as the owner, take it as the verifier; return the statement template to sign."""
    with db.write() as s:
        submit_report(s, vw.base.owner, get_report(s, report_id))
    with db.write() as s:
        start_verification(s, verifier.party, get_report(s, report_id))
    with db.read() as s:
        template = statement_template(s, verifier.party, get_report(s, report_id))
    template["opinion"] = "Reasonable assurance: the data are complete and match the site visit."
    return template


def approve(db: Database, report_id: str, verifier: Verifier, statement: dict[str, Any],
            signature: str | None = None) -> Approval:
    with db.write() as s:
        return approve_report(s, verifier.party, get_report(s, report_id), statement,
                                       signature if signature is not None else verifier.sign(statement), False)


def register_wetland(db: Database, vw: VerificationWorld) -> str:
    """A registered 30 ha wetland whose parcels A and B are the strata of the example data."""
    with db.write() as s:
        project = register_project(s, vw.base.owner, ProjectDetails(
            "Qinhu wetland", "CIR-WET-SINK", "1.0", "CN-JS", "Taizhou", capacity=30.0, capacity_unit="ha",
            crediting_period_start=date(2022, 1, 1), crediting_period_end=date(2051, 12, 31)),
            [AssetSpec(AssetKind.PARCEL, "A", area_m2=200_000, geometry=rectangle_parcel(121.50, 28.60, 500, 400)),
             AssetSpec(AssetKind.PARCEL, "B", area_m2=100_000, geometry=rectangle_parcel(121.52, 28.60, 250, 400))])
        change_project_status(s, vw.base.owner, project, ProjectStatus.SUBMITTED)
        validate(s, vw.cqc.party, project)
        return project.public_id
