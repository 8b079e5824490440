"""A small registry to test against: a registrar, a PV owner, a factory and a registered project."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from methodologies.plugin import AssetKind
from registry import credits
from registry.accounts import open_account
from registry.db import Database
from registry.models import Party, PartyKind, Project, ProjectStatus, Role
from registry.parties import bootstrap_registrar, create_party, issue_api_key
from registry.projects import ProjectDetails
from verification.assets import AssetSpec
from verification.models import DocumentKind
from verification.projects import DocumentSpec, change_project_status, file_document, register_project


@dataclass
class World:
    registrar: Party
    owner: Party
    factory: Party
    owner_account: str
    factory_account: str
    project: str
    registrar_key: str
    owner_key: str
    factory_key: str


def _registrar(s: Session) -> tuple[Party, str]:
    """The bootstrap registrar in an empty registry; in a second world, another one it registers."""
    first = s.execute(select(Party).where(col(Party.roles).contains(Role.REGISTRAR.value))).scalars().first()
    if first is None:
        bootstrap = bootstrap_registrar(s, "Suzhou Carbon Inclusion Registry")
        return bootstrap.party, bootstrap.api_key
    registrar = create_party(s, first, "Suzhou Carbon Inclusion Registry (desk 2)", PartyKind.ORGANISATION,
                             [Role.REGISTRAR, Role.AUDITOR])
    return registrar, issue_api_key(s, registrar, registrar)[1]


def make_world(db: Database) -> World:
    with db.write() as s:
        registrar, registrar_key = _registrar(s)
        owner = create_party(s, registrar, "SIP Rooftop Solar Aggregator", PartyKind.ORGANISATION,
                             [Role.PROJECT_OWNER])
        factory = create_party(s, registrar, "Suzhou Precision Parts Factory", PartyKind.ORGANISATION, [Role.BUYER])
        owner_account = open_account(s, owner, "Main")
        factory_account = open_account(s, factory, "Offsets")
        project = register_project(s, owner, ProjectDetails(
            name="SIP rooftop PV cluster", methodology_id="CIR-PV-DG", methodology_version="1.0",
            region="CN-JS", location="Suzhou Industrial Park", latitude=31.3, longitude=120.7,
            capacity=1200.0, capacity_unit="kWp", crediting_period_start=date(2020, 1, 1),
            crediting_period_end=date(2029, 12, 31)),
            [AssetSpec(AssetKind.METER, f"SIP-CLUSTER-{secrets.token_hex(4)}")])
        change_project_status(s, owner, project, ProjectStatus.SUBMITTED)
        validate(s, registrar, project)
        _, owner_key = issue_api_key(s, owner, owner)
        _, factory_key = issue_api_key(s, factory, factory)
        return World(registrar, owner, factory, owner_account.public_id, factory_account.public_id,
                     project.public_id, registrar_key, owner_key, factory_key)


def validate(s: Session, validator: Party, project: Project) -> None:
    """Take a submitted project under validation, file the validator's report, register it."""
    change_project_status(s, validator, project, ProjectStatus.UNDER_VALIDATION)
    file_document(s, validator, project, DocumentSpec(
        "Validation report", "validation-report.pdf", hashlib.sha256(project.public_id.encode()).hexdigest(), 1024,
        DocumentKind.VALIDATION_REPORT))
    change_project_status(s, validator, project, ProjectStatus.REGISTERED)


def issue(db: Database, world: World, quantity_kg: int, vintage: int = 2025) -> credits.Movement:
    with db.write() as s:
        _, movement = credits.issue_credits(s, world.registrar, world.project, vintage, quantity_kg,
                                            world.owner_account)
        return movement
