"""The demo registry that `make run` loads: Suzhou parties, projects, credits and one retirement.

The certified example factory in our sources emitted 1,823.89 tCO2e in a year and retired
offsets for all of it; the demo factory does the same with PV and EV-charging credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from registry import credits, service
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.ledger.log import sequence_all
from registry.ledger.signing import LogSigner
from registry.models import Party, PartyKind, ProjectStatus, Role

FACTORY_EMISSIONS_KG = 1_823_890


@dataclass
class DemoResult:
    keys: dict[str, str]
    accounts: dict[str, str]
    projects: dict[str, str]
    retirement: str


def registry_is_empty(db: Database) -> bool:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Party)).scalar_one() == 0


def _registered_project(s, registrar: Party, owner: Party, details: service.ProjectDetails) -> str:  # type: ignore[no-untyped-def]
    project = service.create_project(s, owner, details)
    service.change_project_status(s, owner, project, ProjectStatus.SUBMITTED)
    service.change_project_status(s, registrar, project, ProjectStatus.UNDER_VALIDATION)
    service.change_project_status(s, registrar, project, ProjectStatus.REGISTERED)
    return project.public_id


def load_demo(db: Database, signer: LogSigner) -> DemoResult:
    keys: dict[str, str] = {}
    with db.write() as s:
        parties = {
            "registrar": service.create_party(s, "Suzhou Industrial Park Carbon Inclusion Registry",
                                              PartyKind.ORGANISATION, [Role.REGISTRAR, Role.AUDITOR]),
            "pv_aggregator": service.create_party(s, "SIP Rooftop Solar Aggregator", PartyKind.ORGANISATION,
                                                  [Role.PROJECT_OWNER]),
            "ev_operator": service.create_party(s, "Suzhou Green Charging Co.", PartyKind.ORGANISATION,
                                                [Role.PROJECT_OWNER]),
            "wetland": service.create_party(s, "Taizhou Wetland Park Management", PartyKind.ORGANISATION,
                                            [Role.PROJECT_OWNER]),
            "factory": service.create_party(s, "Suzhou Precision Parts Factory", PartyKind.ORGANISATION,
                                            [Role.BUYER]),
            "auditor": service.create_party(s, "Jiangsu Carbon Audit Office", PartyKind.ORGANISATION,
                                            [Role.AUDITOR]),
        }
        for role, party in parties.items():
            keys[role] = service.issue_api_key(s, party, label="demo")[1]
        accounts = {
            role: service.open_account(s, parties[role], "Main").public_id
            for role in ("pv_aggregator", "ev_operator", "wetland", "factory")
        }
        registrar = parties["registrar"]
        projects = {
            "pv": _registered_project(s, registrar, parties["pv_aggregator"], service.ProjectDetails(
                "SIP distributed rooftop PV (20 households and a 1.2 MWp factory roof)", "CIR-PV-DG", "1.0",
                "CN-JS", "Suzhou Industrial Park, Jiangsu", 31.32, 120.72, 1290.0, "kWp")),
            "ev": _registered_project(s, registrar, parties["ev_operator"], service.ProjectDetails(
                "Jinji Lake public EV charging hub", "CIR-EV-CHG", "1.0", "CN-JS",
                "Jinji Lake, Suzhou Industrial Park", 31.31, 120.69, 1800.0, "kW")),
            "wetland": _registered_project(s, registrar, parties["wetland"], service.ProjectDetails(
                "Taizhou Qinhu wetland carbon sink", "CIR-WET-SINK", "1.0", "CN-JS",
                "Qinhu Lake, Taizhou, Jiangsu", 32.59, 120.08, 260.0, "ha")),
        }
    issuances = [("pv", "pv_aggregator", 2024, 905_000), ("pv", "pv_aggregator", 2025, 1_320_000),
                 ("ev", "ev_operator", 2025, 310_000), ("wetland", "wetland", 2025, 420_000)]
    for project, owner, vintage, quantity in issuances:
        with db.write() as s:
            credits.issue_credits(s, registrar, projects[project], vintage, quantity, accounts[owner])
    # The factory buys what it needs from the PV aggregator and the EV operator …
    with db.write() as s:
        credits.transfer_credits(s, parties["pv_aggregator"], accounts["pv_aggregator"], accounts["factory"],
                                 1_600_000, OldestFirstSelection())
    with db.write() as s:
        credits.transfer_credits(s, parties["ev_operator"], accounts["ev_operator"], accounts["factory"],
                                 FACTORY_EMISSIONS_KG - 1_600_000, OldestFirstSelection())
    # … and retires all of it against its 2025 residual emissions.
    with db.write() as s:
        retirement, _ = credits.retire_credits(
            s, parties["factory"], accounts["factory"], FACTORY_EMISSIONS_KG, OldestFirstSelection(),
            credits.RetirementDetails(
                "Suzhou Precision Parts Factory", "organisation",
                "Zero-carbon factory claim: residual scope 1 and 2 emissions, 2025",
                date(2025, 1, 1), date(2025, 12, 31),
                "1,823.89 tCO2e of residual emissions covered by Suzhou carbon-inclusion credits"))
    sequence_all(db, signer)
    return DemoResult(keys, accounts, projects, retirement.public_id)
