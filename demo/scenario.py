"""The demo registry that `make run` loads, through the real workflow from meter to credit.

Suzhou Industrial Park (CN-JS): a rooftop-PV aggregator with 20 households and a 1.2 MWp
logistics-centre roof, and a public EV charging hub; a coastal wetland on Taizhou Bay (台州湾,
CN-ZJ: a cross-regional project). Each has a year of synthetic monitoring data (`demo.data`),
quantified by its methodology, verified by an accredited verifier who signs a statement with its
own key, and issued. A ready-mix concrete plant in Guangzhou (CN-GD) files its 2025 emission
inventory, which CQC verifies: 1,823.89 t of residual emissions, the figure of the certified
example factory in our sources. It buys Suzhou PV and Taizhou Bay wetland credits, retires them
for its net-zero claim (cross-regional, disclosed) and is certified. Then the market: bilateral
trades, a pledge, and the exchange — two standard products (Suzhou distributed PV 2025, wetland
removals), a day of trading on their books with a close, and a finished auction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from demo.data import (
    EV_HUB_CHARGERS,
    FAB_ROOF_METERS,
    FACTORY_ROOF_METERS,
    HOUSEHOLD_METERS,
    ev_year,
    pv_year,
    rectangle_parcel,
    wetland_inventory,
)
from methodologies.plugin import AssetKind
from netzero import inventories
from netzero.certificates import issue_certificate
from netzero.claims import open_claim, retire_for_claim
from netzero.facilities import register_facility
from registry import credits
from registry.accounts import open_account
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.ledger.log import sequence_all
from registry.ledger.signing import LogSigner, write_private_key
from registry.models import Party, PartyKind, ProjectStatus, Role
from registry.parties import bootstrap_registrar, create_party, issue_api_key
from registry.projects import ProjectDetails, get_project
from registry.settings import get_settings
from trading import auctions, book, cash, offers, pledges, products, settlement
from trading.models import AuctionRule, CreditKind, OrderSide, OrderStatus, TimeInForce
from verification.accreditation import accredit_verifier
from verification.assets import AssetSpec
from verification.blobs import BlobStore
from verification.flows import approve_report, statement_template
from verification.models import DocumentKind
from verification.projects import DocumentSpec, change_project_status, file_document, register_project
from verification.reports import create_report, get_report, start_verification, submit_report
from verification.statements import public_key_pem, sign_statement

FACTORY_EMISSIONS_KG = 1_823_890  # the verified residual of demo/concrete_plant_2025.csv
FACTORY_PV_PURCHASE_KG = 1_000_000
# The day the demo's history retires the credits for the 2025 claim: inside the 12 months after the
# period, whenever the demo is loaded.
CLAIM_RETIRED_ON = date(2026, 3, 31)
FACILITY = ("Baiyun ready-mix concrete plant", "CN-GD", "Taihe Town, Baiyun District, Guangzhou",
            "Ready-mix concrete", "I")
SEED = 7
YEAR = 2025
MAX_BYTES = 256 * 1024 * 1024


@dataclass
class DemoMarket:
    cash_accounts: dict[str, str]  # by the same names as the parties
    trades: list[str]
    offer: str  # open, in the factory's inbox
    pledge: str
    products: list[str] = field(default_factory=list)
    trading_day: str = ""  # the day of book trading, ISO
    resting_orders: list[str] = field(default_factory=list)  # good until cancelled, on the books
    auction: str = ""  # cleared


@dataclass
class DemoResult:
    parties: dict[str, str]  # public ids, by the same names as the keys
    keys: dict[str, str]
    accounts: dict[str, str]
    projects: dict[str, str]
    reports: dict[str, str]
    verifier_key_files: dict[str, str]
    retirement: str
    facility: str
    inventory: str
    claim: str
    certificate: str
    market: DemoMarket


def registry_is_empty(db: Database) -> bool:
    with db.read() as s:
        return s.execute(select(func.count()).select_from(Party)).scalar_one() == 0


@dataclass(frozen=True)
class DemoProject:
    key: str
    owner: str
    verifier: str
    details: ProjectDetails
    assets: list[AssetSpec]
    data: pd.DataFrame
    params: dict[str, Any]
    period: tuple[date, date]


def _projects() -> list[DemoProject]:
    households, household_params = pv_year(HOUSEHOLD_METERS, YEAR, SEED)
    roof, roof_params = pv_year(FACTORY_ROOF_METERS, YEAR, SEED)
    fab, fab_params = pv_year(FAB_ROOF_METERS, YEAR, SEED)
    sessions, ev_params = ev_year(EV_HUB_CHARGERS, YEAR, SEED)
    inventory, wetland_params = wetland_inventory(SEED)
    year = (date(YEAR, 1, 1), date(YEAR, 12, 31))
    strata = inventory[inventory["record"] == "stratum"].drop_duplicates("stratum_id")

    def meters(rows: list[tuple[str, float]], kind: AssetKind) -> list[AssetSpec]:
        return [AssetSpec(kind, name) for name, _ in rows]

    return [
        DemoProject("households", "pv_aggregator", "sgs", ProjectDetails(
            "SIP household rooftops (20 homes)", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou Industrial Park, Jiangsu",
            31.32, 120.72, sum(kwp for _, kwp in HOUSEHOLD_METERS), "kWp", date(YEAR, 1, 1), date(YEAR + 9, 12, 31)),
            meters(HOUSEHOLD_METERS, AssetKind.METER), households, household_params, year),
        DemoProject("roof", "pv_aggregator", "sgs", ProjectDetails(
            "SIP logistics-centre rooftop, 1.2 MWp", "CIR-PV-DG", "1.0", "CN-JS", "Suzhou Industrial Park, Jiangsu",
            31.30, 120.75, 1200.0, "kWp", date(YEAR, 1, 1), date(YEAR + 9, 12, 31)),
            meters(FACTORY_ROOF_METERS, AssetKind.METER), roof, roof_params, year),
        DemoProject("fab", "pv_aggregator", "sgs", ProjectDetails(
            "SIP semiconductor plant rooftop and canopies, 2.6 MWp", "CIR-PV-DG", "1.0", "CN-JS",
            "Suzhou Industrial Park, Jiangsu", 31.27, 120.79, 2600.0, "kWp", date(YEAR, 1, 1), date(YEAR + 9, 12, 31)),
            meters(FAB_ROOF_METERS, AssetKind.METER), fab, fab_params, year),
        DemoProject("ev", "ev_operator", "cqc", ProjectDetails(
            "Jinji Lake public EV charging hub", "CIR-EV-CHG", "1.0", "CN-JS", "Jinji Lake, Suzhou Industrial Park",
            31.31, 120.69, sum(kw for _, kw in EV_HUB_CHARGERS), "kW", date(YEAR, 1, 1), date(YEAR + 9, 12, 31)),
            meters(EV_HUB_CHARGERS, AssetKind.CHARGER), sessions, ev_params, year),
        DemoProject("wetland", "wetland", "cqc", ProjectDetails(
            "Taizhou Bay coastal salt-marsh restoration", "CIR-WET-SINK", "1.0", "CN-ZJ", "Taizhou Bay, Zhejiang",
            28.62, 121.52, float(strata["area_ha"].sum()), "ha", date(2024, 7, 1), date(2054, 6, 30)),
            [AssetSpec(AssetKind.PARCEL, row.stratum_id, area_m2=int(row.area_ha * 10_000),
                                # Strata side by side along the bay, 1 km deep.
                                geometry=rectangle_parcel(121.50 + 0.02 * i, 28.60, row.area_ha * 10, 1_000))
             for i, row in enumerate(strata.itertuples())],
            inventory, wetland_params, (date(2024, 7, 1), date(2025, 7, 1))),
    ]


def _validation_report(demo: DemoProject, verifier: Party) -> bytes:
    """The validator's report, short but in the shape a real one takes."""
    details = demo.details
    return (
        f"# Validation report: {details.name}\n\n"
        f"Validator: {verifier.name}\n"
        f"Methodology: {details.methodology_id} {details.methodology_version}\n"
        f"Location: {details.location} ({details.region}), {details.latitude}, {details.longitude}\n"
        f"Capacity: {details.capacity:,.1f} {details.capacity_unit}; {len(demo.assets)} registered asset(s)\n"
        f"Crediting period: {details.crediting_period_start} to {details.crediting_period_end}\n\n"
        "## Findings\n\n"
        "- Applicability conditions of the methodology are met.\n"
        "- Every registered asset was seen on site; identifiers match the metering contracts.\n"
        "- No registration of these assets in another programme was found (CCER, GEC, VCS lists checked).\n\n"
        "## Conclusion\n\nThe project is validated for registration.\n"
    ).encode()


def load_demo(db: Database, signer: LogSigner, blobs: BlobStore, var_dir: Path) -> DemoResult:
    verifier_keys = {"cqc": Ed25519PrivateKey.generate(), "sgs": Ed25519PrivateKey.generate()}
    with db.write() as s:
        bootstrap = bootstrap_registrar(s, "Suzhou Industrial Park Carbon Inclusion Registry")
        bootstrap.party.region = "CN-JS"
        registrar = bootstrap.party
        organisation = PartyKind.ORGANISATION
        members = {
            "pv_aggregator": ("SIP Rooftop Solar Aggregator", [Role.PROJECT_OWNER], "CN-JS"),
            "ev_operator": ("Suzhou Green Charging Co.", [Role.PROJECT_OWNER], "CN-JS"),
            "wetland": ("Taizhou Bay Wetland Management", [Role.PROJECT_OWNER], "CN-ZJ"),
            "factory": ("Guangzhou Baiyun Ready-Mix Concrete Co.", [Role.BUYER], "CN-GD"),
            "auditor": ("Jiangsu Carbon Audit Office", [Role.AUDITOR], "CN-JS"),
            "cqc": ("China Quality Certification Centre", [Role.VERIFIER], "CN-BJ"),
            "sgs": ("SGS-CSTC Standards Technical Services", [Role.VERIFIER], "CN-SH"),
            "bank": ("Bank of Suzhou, carbon market settlement", [Role.BANK], "CN-JS"),
            "precision": ("Suzhou Precision Parts Co.", [Role.BUYER], "CN-JS"),
        }
        parties: dict[str, Party] = {"registrar": registrar} | {
            role: create_party(s, registrar, name, organisation, roles, region)
            for role, (name, roles, region) in members.items()}
        keys = {"registrar": bootstrap.api_key} | {
            role: issue_api_key(s, registrar, party, label="demo")[1]
            for role, party in parties.items() if role != "registrar"}
        accounts = {role: open_account(s, parties[role], "Main").public_id
                    for role in ("pv_aggregator", "ev_operator", "wetland", "factory", "precision")}
        # CQC verifies every methodology and factories' inventories (`*`), also in Guangdong.
        scopes = {"cqc": (["*"], ["CN-JS", "CN-ZJ", "CN-GD"]), "sgs": (["CIR-PV-DG"], ["CN-JS"])}
        for name, (methodologies, regions) in scopes.items():
            accredit_verifier(s, registrar, parties[name].public_id, public_key_pem(verifier_keys[name]),
                              methodologies, regions, date(2024, 1, 1), date(2028, 12, 31))
    key_files = {}
    for name, key in verifier_keys.items():
        key_files[name] = str(var_dir / f"demo-verifier-{name}.pem")
        write_private_key(Path(key_files[name]), key, replace=True)  # a re-run demo replaces its keys

    projects: dict[str, str] = {}
    reports: dict[str, str] = {}
    for demo in _projects():
        owner, verifier = parties[demo.owner], parties[demo.verifier]
        with db.write() as s:
            project = register_project(s, owner, demo.details, demo.assets)
            change_project_status(s, owner, project, ProjectStatus.SUBMITTED)
            change_project_status(s, verifier, project, ProjectStatus.UNDER_VALIDATION)
            document = _validation_report(demo, verifier)
            file_document(s, verifier, project, DocumentSpec(
                "Validation report", f"validation-report-{demo.key}.md", blobs.put_bytes(document), len(document),
                DocumentKind.VALIDATION_REPORT))
            change_project_status(s, verifier, project, ProjectStatus.REGISTERED, "validated on site")
            projects[demo.key] = project.public_id
        csv = io.BytesIO()
        demo.data.to_csv(csv, index=False, lineterminator="\n")
        sha256 = blobs.put_bytes(csv.getvalue())
        filename = f"{demo.key}-{demo.period[0].year}.csv"
        with db.write() as s:
            report = create_report(
                s, owner, get_project(s, project.public_id), demo.period[0], demo.period[1],
                blobs.path(sha256), sha256, filename, demo.params, accounts[demo.owner], MAX_BYTES)
            reports[demo.key] = report.public_id
            submit_report(s, owner, report)
        with db.write() as s:
            report = get_report(s, reports[demo.key])
            start_verification(s, verifier, report)
            statement = statement_template(s, verifier, report)
            statement["opinion"] = "Reasonable assurance: data complete and consistent with the site visit."
            approve_report(s, verifier, report, statement, sign_statement(statement, verifier_keys[demo.verifier]),
                           needs_registrar_approval=False)

    # The factory buys 1,000 t of PV from the aggregator and the rest from the wetland, then retires
    # them for its claim; the aggregator keeps well over a thousand tonnes to trade (and for the
    # README's examples).
    purchases = [("pv_aggregator", FACTORY_PV_PURCHASE_KG), ("wetland", FACTORY_EMISSIONS_KG - FACTORY_PV_PURCHASE_KG)]
    for seller, quantity_kg in purchases:
        with db.write() as s:
            credits.transfer_credits(s, parties[seller], accounts[seller], accounts["factory"], quantity_kg,
                                     OldestFirstSelection())
    net_zero = _net_zero(db, blobs, parties["factory"], parties["cqc"], verifier_keys["cqc"], accounts["factory"])
    market = _market(db, parties, accounts)
    _exchange(db, parties, accounts, market)
    sequence_all(db, signer)
    return DemoResult({name: party.public_id for name, party in parties.items()}, keys, accounts, projects, reports,
                      key_files, *net_zero, market)


def _market(db: Database, parties: dict[str, Party], accounts: dict[str, str]) -> DemoMarket:
    """The market after the claim: the bank confirms deposits; the aggregator sells 100 t of PV to the
    factory and the wetland 50 t (both cross-regional: the factory is in Guangdong); the aggregator
    has one offer waiting in the factory's inbox and 200 t pledged to the bank for a loan."""
    bank, factory = parties["bank"], parties["factory"]
    fees = settlement.Fees(get_settings().market_fee_buyer_bp, get_settings().market_fee_seller_bp)
    band = get_settings().bilateral_band_pct
    with db.write() as s:
        cash_accounts = {name: cash.open_cash_account(s, parties[name]).public_id
                         for name in ("pv_aggregator", "wetland", "factory")}
        cash.confirm_deposit(s, bank, cash_accounts["factory"], 5_000_000_00, "BOS-2026-DEP-000118")
        cash.confirm_deposit(s, bank, cash_accounts["pv_aggregator"], 20_000_00, "BOS-2026-DEP-000119")
    trades = []
    soon = datetime.now(UTC) + timedelta(days=30)
    for seller, quantity_kg, price in (("pv_aggregator", 100_000, 6_000), ("wetland", 50_000, 8_500)):
        with db.write() as s:
            offer = offers.make_offer(s, parties[seller], offers.OfferTerms(
                factory.public_id, accounts[seller], quantity_kg, OldestFirstSelection(), price, soon,
                "Bilateral agreement (协议转让)"), band)
            trades.append(offers.accept_offer(s, factory, offer, accounts["factory"], fees).public_id)
    with db.write() as s:
        waiting = offers.make_offer(s, parties["pv_aggregator"], offers.OfferTerms(
            factory.public_id, accounts["pv_aggregator"], 50_000, OldestFirstSelection(), 6_200, soon,
            "Second tranche, if the first suits you"), band).public_id
        pledge = pledges.pledge_credits(s, parties["pv_aggregator"], pledges.PledgeTerms(
            bank.public_id, accounts["pv_aggregator"], 200_000, OldestFirstSelection(), "BOS-GL-2026-0042",
            date.today() + timedelta(days=180))).public_id
    return DemoMarket(cash_accounts, trades, waiting, pledge)


# Two standard products: household-sized lots of Suzhou PV, and tonnes of wetland removals.
PRODUCTS = (
    products.ProductSpec("SZ-PV-2025", "Suzhou distributed PV 2025", methodology_ids=["CIR-PV-DG"], regions=["CN-JS"],
                         vintage_from=2025, vintage_to=2025, lot_kg=100, tick_fen=10, reference_price_fen=6_000),
    products.ProductSpec("WETLAND-REMOVALS", "Coastal wetland removals", credit_kind=CreditKind.REMOVALS,
                         lot_kg=1_000, tick_fen=10, reference_price_fen=8_500),
)
# (party, product, side, kg, price fen per tonne, time in force), in the order the day saw them.
TRADING_DAY = (
    ("pv_aggregator", "SZ-PV-2025", "sell", 30_000, 6_080, "gtc"),
    ("pv_aggregator", "SZ-PV-2025", "sell", 20_000, 6_150, "gtc"),
    ("precision", "SZ-PV-2025", "buy", 8_000, 6_000, "gtc"),
    ("factory", "SZ-PV-2025", "buy", 12_000, 6_100, "ioc"),
    ("precision", "SZ-PV-2025", "buy", 5_500, 6_080, "day"),
    ("pv_aggregator", "SZ-PV-2025", "sell", 10_000, 5_990, "day"),
    ("factory", "SZ-PV-2025", "buy", 15_000, 6_150, "gtc"),
    ("precision", "SZ-PV-2025", "buy", 6_000, 5_950, "gtc"),
    ("wetland", "WETLAND-REMOVALS", "sell", 20_000, 8_600, "gtc"),
    ("wetland", "WETLAND-REMOVALS", "sell", 15_000, 8_800, "gtc"),
    ("factory", "WETLAND-REMOVALS", "buy", 12_000, 8_650, "day"),
    ("precision", "WETLAND-REMOVALS", "buy", 5_000, 8_400, "gtc"),
)


def _last_trading_day(today: date) -> date:
    """The last weekday before today: the demo's day on the exchange."""
    day = today - timedelta(days=1)
    while day.isoweekday() > 5:
        day -= timedelta(days=1)
    return day


def _exchange(db: Database, parties: dict[str, Party], accounts: dict[str, str], market: DemoMarket) -> None:
    """The registrar lists the two products; a day of trading on their books (the close is that day's
    VWAP); the wetland auctions 30 t of removals in the afternoon, cleared at the close. Orders left
    good until cancelled stay on the books."""
    registrar = parties["registrar"]
    fees = settlement.Fees(get_settings().market_fee_buyer_bp, get_settings().market_fee_seller_bp)
    shanghai = ZoneInfo("Asia/Shanghai")
    day = _last_trading_day(datetime.now(shanghai).date())
    with db.write() as s:
        for spec in PRODUCTS:
            products.list_product(s, registrar, spec)
        cash.confirm_deposit(s, parties["bank"], cash.open_cash_account(s, parties["precision"]).public_id,
                             800_000_00, "BOS-2026-DEP-000131")
        market.cash_accounts["precision"] = cash.cash_account_of(s, parties["precision"]).public_id
    clock = datetime.combine(day, time(9, 31), tzinfo=shanghai)
    placed_ids: list[str] = []
    for who, code, side, kg, price, tif in TRADING_DAY:
        with db.write() as s:
            placed = book.place_order(s, parties[who], code, book.OrderTerms(
                OrderSide(side), accounts[who], kg, price, TimeInForce(tif)), fees, clock)
            placed_ids.append(placed.order.public_id)
        clock += timedelta(minutes=9)
    with db.write() as s:
        auction = auctions.announce(s, parties["wetland"], auctions.Lot(
            "Taizhou Bay salt-marsh removals, 30 t", 30_000, 8_300, datetime.combine(day, time(14, 30), shanghai),
            AuctionRule.UNIFORM, min_bid_kg=5_000, product="WETLAND-REMOVALS", from_account=accounts["wetland"]),
            datetime.combine(day, time(13, 0), shanghai))
    for who, kg, price, minute in (("factory", 15_000, 8_700, 5), ("precision", 10_000, 8_550, 20),
                                   ("factory", 10_000, 8_420, 50)):
        with db.write() as s:
            auctions.place_bid(s, parties[who], auction.public_id, accounts[who], kg, price, fees,
                               datetime.combine(day, time(13, minute), shanghai))
    with db.write() as s:
        auctions.clear(s, auction.public_id, fees, datetime.combine(day, time(15, 0), shanghai))
    with db.read() as s:
        market.resting_orders = [public_id for public_id in placed_ids
                                 if book.get_order(s, public_id).status == OrderStatus.OPEN]
    market.products = [spec.code for spec in PRODUCTS]
    market.trading_day = day.isoformat()
    market.auction = auction.public_id


def _net_zero(db: Database, blobs: BlobStore, factory: Party, verifier: Party, verifier_key: Ed25519PrivateKey,
              account: str) -> tuple[str, str, str, str, str]:
    """The concrete plant's way to net zero: facility, inventory, verification, claim, retirement and
    certificate. Returns the retirement, facility, inventory, claim and certificate ids."""
    data = (resources.files("demo") / "concrete_plant_2025.csv").read_bytes()
    period = (date(YEAR, 1, 1), date(YEAR, 12, 31))
    with db.write() as s:
        facility = register_facility(s, factory, *FACILITY)
        inventory = inventories.file_inventory(s, factory, facility.public_id, *period, data, blobs.put_bytes(data),
                                   "concrete_plant_2025.csv")
        inventories.start_verification(s, verifier, inventory)
        statement = inventories.statement_template(s, verifier, inventory)
        statement["opinion"] = ("Reasonable assurance: fuel cards, tank logs, grid bills and the green electricity "
                                "certificates reconcile with the activity file; site visit 2026-02-10.")
        inventories.approve_inventory(s, verifier, inventory, statement, sign_statement(statement, verifier_key))
    with db.write() as s:
        claim = open_claim(s, factory, facility.public_id, period[0])
        retirement, _ = retire_for_claim(
            s, factory, claim, account, FACTORY_EMISSIONS_KG, OldestFirstSelection(),
            "1,823.89 tCO2e of residual emissions covered by carbon-inclusion credits (PV and wetland)",
            as_of=CLAIM_RETIRED_ON)
        certificate = issue_certificate(s, factory, claim, get_settings().certificate_validity_months)
        return (retirement.public_id, facility.public_id, inventory.public_id, claim.public_id,
                certificate.public_id)
