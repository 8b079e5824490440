"""Fresh net-zero work for browser tests on the shared demo registry: a facility of the demo's
factory, an inventory waiting for or under verification by CQC, and credits for the factory."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from netzero import certificates, claims, facilities, inventories
from registry import credits
from registry.accounts import open_account
from registry.models import Party
from registry.parties import get_party
from tests.netzero.netzero_world import activity_csv, period
from tests.web.conftest import Site
from tests.web.reports import new_pv_project
from verification.statements import load_private_key, sign_statement

FACTORY = "factory"
INVENTORY_VERIFIER = "cqc"  # accredited for every scope, inventories included, in CN-GD


def _party(site: Site, who: str) -> Party:
    with site.db.read() as s:
        return get_party(s, site.demo.parties[who])


def new_facility(site: Site) -> str:
    with site.db.write() as s:
        return facilities.register_facility(
            s, _party(site, FACTORY), f"Test mixing plant {secrets.token_hex(3)}", "CN-GD", "Panyu, Guangzhou",
            "Ready-mix concrete", "I").public_id


def filed_inventory(site: Site, take: bool = False) -> str:
    """A new facility's inventory for last year, submitted; taken by CQC when `take`."""
    content = activity_csv()
    start, end = period()
    with site.db.write() as s:
        inventory = inventories.file_inventory(s, _party(site, FACTORY), new_facility(site), start, end, content,
                                               hashlib.sha256(content).hexdigest(), "activity.csv")
        if take:
            inventories.start_verification(s, _party(site, INVENTORY_VERIFIER), inventory)
        return inventory.public_id


def factory_credits(site: Site, quantity_kg: int, vintage: int) -> str:
    """Credits of a new PV project, moved to a new account of the factory; returns the account."""
    project, _ = new_pv_project(site)
    owner = _party(site, "pv_aggregator")
    with site.db.write() as s:
        source = open_account(s, owner, f"For the factory {secrets.token_hex(3)}")
        credits.issue_credits(s, _party(site, "registrar"), project, vintage, quantity_kg, source.public_id)
        account = open_account(s, _party(site, FACTORY), f"Offsets {secrets.token_hex(3)}")
        credits.transfer_credits(s, owner, source.public_id, account.public_id, quantity_kg,
                                 credits.OldestFirstSelection())
        return account.public_id


def certified_claim(site: Site) -> str:
    """A new facility's inventory verified by CQC, covered and certified: returns the certificate."""
    inventory_id = filed_inventory(site, take=True)
    verifier, factory = _party(site, INVENTORY_VERIFIER), _party(site, FACTORY)
    key = load_private_key(Path(site.demo.verifier_key_files[INVENTORY_VERIFIER]).read_bytes())
    with site.db.write() as s:
        inventory = inventories.get_inventory(s, inventory_id)
        statement = inventories.statement_template(s, verifier, inventory)
        statement["opinion"] = "Reasonable assurance."
        inventories.approve_inventory(s, verifier, inventory, statement, sign_statement(statement, key))
        facility = inventories.facility_of(s, inventory)
        claim = claims.open_claim(s, factory, facility.public_id, inventory.period_start)
        residual = claims.coverage(s, claim).residual_kg
    account = factory_credits(site, residual, period()[0].year)
    with site.db.write() as s:
        claim = claims.get_claim(s, claim.public_id)
        claims.retire_for_claim(s, factory, claim, account, residual, credits.OldestFirstSelection())
        return certificates.issue_certificate(s, factory, claim, 12).public_id
