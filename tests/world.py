"""A small registry to test against: a registrar, a PV owner, a factory and a registered project."""

from __future__ import annotations

from dataclasses import dataclass

from registry import credits, service
from registry.db import Database
from registry.models import PartyKind, ProjectStatus, Role


@dataclass
class World:
    registrar: service.Party
    owner: service.Party
    factory: service.Party
    owner_account: str
    factory_account: str
    project: str
    registrar_key: str
    owner_key: str
    factory_key: str


def make_world(db: Database) -> World:
    with db.write() as s:
        registrar = service.create_party(s, "Suzhou Carbon Inclusion Registry", PartyKind.ORGANISATION,
                                         [Role.REGISTRAR, Role.AUDITOR])
        owner = service.create_party(s, "SIP Rooftop Solar Aggregator", PartyKind.ORGANISATION, [Role.PROJECT_OWNER])
        factory = service.create_party(s, "Suzhou Precision Parts Factory", PartyKind.ORGANISATION, [Role.BUYER])
        owner_account = service.open_account(s, owner, "Main")
        factory_account = service.open_account(s, factory, "Offsets")
        project = service.create_project(s, owner, service.ProjectDetails(
            name="SIP rooftop PV cluster", methodology_id="CIR-PV-DG", methodology_version="1.0",
            region="CN-JS", location="Suzhou Industrial Park", latitude=31.3, longitude=120.7,
            capacity=1200.0, capacity_unit="kWp"))
        for status in (ProjectStatus.SUBMITTED,):
            service.change_project_status(s, owner, project, status)
        for status in (ProjectStatus.UNDER_VALIDATION, ProjectStatus.REGISTERED):
            service.change_project_status(s, registrar, project, status)
        _, registrar_key = service.issue_api_key(s, registrar)
        _, owner_key = service.issue_api_key(s, owner)
        _, factory_key = service.issue_api_key(s, factory)
        return World(registrar, owner, factory, owner_account.public_id, factory_account.public_id,
                     project.public_id, registrar_key, owner_key, factory_key)


def issue(db: Database, world: World, quantity_kg: int, vintage: int = 2025) -> credits.Movement:
    with db.write() as s:
        _, movement = credits.issue_credits(s, world.registrar, world.project, vintage, quantity_kg,
                                            world.owner_account)
        return movement
