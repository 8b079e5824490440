"""A factory's emission inventory for one reporting year: activity data × factors → integer kg.

Pure computation, like `methodologies/`: no database, no HTTP. The numbers are exact fractions
from the decimal text of the file and of the factor table, so every machine gets the same kg;
each line is rounded *up* to the kg (an inventory is never understated) and every total is the
sum of the rounded lines, so a reader can add the lines up and get the total on the page.
The concept page is docs/inventory.md; its worked examples are asserted in
tests/netzero/test_calculation.py.
"""

import csv
import dataclasses
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path, PurePath
from typing import Any, NamedTuple

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from methodologies.errors import FactorNotFound
from methodologies.factors import GRID_FACTOR_UNIT, load_factor_table


class ActivityDataInvalid(ValueError):
    """Activity data (or the facility parameters given with it) that cannot be calculated.

    Every problem found is listed, one per line of the message, each naming the file line and
    column and saying what to do, so an accountant fixes the whole file in one round trip.
    """

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


# --- categories and scopes -------------------------------------------------------------------

SCOPE_OF_CATEGORY: dict[str, int] = {
    "stationary_combustion": 1,
    "mobile_combustion": 1,
    "process": 1,
    "fugitive": 1,
    "purchased_electricity": 2,
    "purchased_heat": 2,
    "purchased_goods": 3,
    "upstream_transport": 3,
    "waste": 3,
    "business_travel": 3,
    "employee_commuting": 3,
    "downstream_transport": 3,
}
GREEN_CERTIFICATE = "green_certificate"
GREEN_POWER_CONTRACT = "green_power_contract"
EVIDENCE_CATEGORIES = (GREEN_CERTIFICATE, GREEN_POWER_CONTRACT)
ELECTRICITY = "purchased_electricity"
BOUNDARIES = ("I", "II")

# Which rows of the factor table (by their `category`) a line category may name. Scope 3
# transport and travel may use the fuel rows: the fuel-based method of the GHG Protocol
# scope 3 guidance (fuel the carrier burned × the same combustion factor).
FACTOR_CATEGORIES_OF: dict[str, tuple[str, ...]] = {
    "stationary_combustion": ("combustion",),
    "mobile_combustion": ("combustion",),
    "process": ("process",),
    "fugitive": ("fugitive",),
    "purchased_heat": ("purchased_heat",),
    "upstream_transport": ("combustion",),
    "downstream_transport": ("combustion",),
    "business_travel": ("combustion",),
    "employee_commuting": ("combustion",),
    "purchased_goods": (),
    "waste": (),
}

COLUMNS = (
    "source_id",
    "category",
    "description",
    "amount",
    "unit",
    "factor_id",
    "factor_value",
    "factor_unit",
    "factor_source",
    "reference",
    "generator_project",
    "evidence",
)
REQUIRED_COLUMNS = ("source_id", "category", "amount", "unit")


# --- units -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str
    # How many base units of the dimension one of this unit is (t, Nm3, kWh, t·km, passenger·km).
    per_base: Fraction


_UNIT_LIST = (
    Unit("t", "mass", Fraction(1)),
    Unit("kg", "mass", Fraction(1, 1000)),
    Unit("10^4 Nm3", "gas volume", Fraction(10_000)),
    Unit("Nm3", "gas volume", Fraction(1)),
    # Gas meters and invoices say m3; both mean the volume at standard conditions here.
    Unit("m3", "gas volume", Fraction(1)),
    Unit("kWh", "energy", Fraction(1)),
    Unit("MWh", "energy", Fraction(1000)),
    Unit("GJ", "energy", Fraction(2500, 9)),  # 1 GJ = 1,000,000 kJ / 3,600 kJ per kWh
    Unit("MJ", "energy", Fraction(5, 18)),
    Unit("t·km", "freight distance", Fraction(1)),
    Unit("passenger·km", "passenger distance", Fraction(1)),
)
UNITS = {unit.name: unit for unit in _UNIT_LIST}
_UNIT_ALIASES = {
    "tonne": "t",
    "tonnes": "t",
    "吨": "t",
    "公斤": "kg",
    "千克": "kg",
    "万nm3": "10^4 Nm3",
    "万m3": "10^4 Nm3",
    "10^4m3": "10^4 Nm3",
    "tkm": "t·km",
    "t.km": "t·km",
    "pkm": "passenger·km",
    "p·km": "passenger·km",
    "passenger.km": "passenger·km",
}
ELECTRICITY_UNITS = ("kWh", "MWh")


def _unit_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


_UNIT_BY_KEY = {_unit_key(unit.name): unit for unit in _UNIT_LIST} | {
    _unit_key(alias): UNITS[name] for alias, name in _UNIT_ALIASES.items()
}


def unit_named(text: str) -> Unit | None:
    """The unit a person wrote, forgiving spaces, case and full-width characters (ｋＷｈ)."""
    return _UNIT_BY_KEY.get(_unit_key(text))


_FACTOR_UNIT = re.compile(r"(kg|t)co2(e?)/(.+)")


@dataclass(frozen=True)
class FactorUnit:
    """`kgCO2e/t`, `tCO2/GJ`…: the mass of CO2(e) per one activity unit."""

    kg_per_mass_unit: int
    co2e: bool
    activity_unit: Unit

    @property
    def name(self) -> str:
        mass = "kg" if self.kg_per_mass_unit == 1 else "t"
        return f"{mass}CO2{'e' if self.co2e else ''}/{self.activity_unit.name}"


def factor_unit_named(text: str) -> FactorUnit | None:
    match = _FACTOR_UNIT.fullmatch(_unit_key(text))
    if match is None:
        return None
    activity_unit = unit_named(match.group(3))
    if activity_unit is None:
        return None
    return FactorUnit(1 if match.group(1) == "kg" else 1000, match.group(2) == "e", activity_unit)


# --- the factor table ------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryFactor:
    """One row of netzero/data/inventory_factors.csv.

    A row is one of three kinds: a fuel (NCV, carbon content and oxidation rate; its factor is
    NCV × CC × OX × 44/12, computed, never stored as a rounded number), a gas with a GWP100
    (kg CO2e per kg), or a stated `value` in `value_unit`.
    """

    factor_id: str
    category: str
    name_en: str
    name_zh: str
    activity_unit: Unit
    ncv: Decimal | None
    ncv_unit: str
    carbon_content_tc_per_gj: Decimal | None
    oxidation_rate: Decimal | None
    gwp100: Decimal | None
    value: Decimal | None
    value_unit: FactorUnit
    source: str
    table_version: str

    @property
    def is_fuel(self) -> bool:
        return self.ncv is not None

    @property
    def per_activity_unit(self) -> Fraction:
        """The factor in `value_unit` (t CO2 per t of diesel, kg CO2e per kg of HFC-32…), exact."""
        if self.ncv is not None and self.carbon_content_tc_per_gj is not None and self.oxidation_rate is not None:
            return (
                Fraction(self.ncv)
                * Fraction(self.carbon_content_tc_per_gj)
                * Fraction(self.oxidation_rate)
                * Fraction(44, 12)
            )
        if self.gwp100 is not None:
            return Fraction(self.gwp100)
        assert self.value is not None  # the loader admits no row without one of the three kinds
        return Fraction(self.value)

    @property
    def kg_per_activity_unit(self) -> Fraction:
        return self.per_activity_unit * self.value_unit.kg_per_mass_unit


@dataclass(frozen=True)
class InventoryFactorTable:
    factors: tuple[InventoryFactor, ...]
    table_version: str

    def get(self, factor_id: str) -> InventoryFactor | None:
        wanted = _id_key(factor_id)
        return next((factor for factor in self.factors if _id_key(factor.factor_id) == wanted), None)

    @property
    def factor_ids(self) -> list[str]:
        return [factor.factor_id for factor in self.factors]


def _id_key(factor_id: str) -> str:
    return unicodedata.normalize("NFKC", factor_id).strip().casefold()


def _optional_decimal(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


def _factor_from_row(row: dict[str, str]) -> InventoryFactor:
    where = f"inventory factor table, factor_id {row['factor_id']!r}"
    activity_unit = unit_named(row["activity_unit"])
    value_unit = factor_unit_named(row["value_unit"])
    if activity_unit is None or value_unit is None or value_unit.activity_unit != activity_unit:
        raise ValueError(f"{where}: activity_unit and value_unit do not agree")
    if not row["source"].strip():
        raise ValueError(f"{where}: every factor needs its source")
    factor = InventoryFactor(
        factor_id=row["factor_id"],
        category=row["category"],
        name_en=row["name_en"],
        name_zh=row["name_zh"],
        activity_unit=activity_unit,
        ncv=_optional_decimal(row["ncv"]),
        ncv_unit=row["ncv_unit"],
        carbon_content_tc_per_gj=_optional_decimal(row["carbon_content_tc_per_gj"]),
        oxidation_rate=_optional_decimal(row["oxidation_rate"]),
        gwp100=_optional_decimal(row["gwp100"]),
        value=_optional_decimal(row["value"]),
        value_unit=value_unit,
        source=row["source"],
        table_version=row["table_version"],
    )
    fuel = (factor.ncv, factor.carbon_content_tc_per_gj, factor.oxidation_rate)
    kinds = [all(part is not None for part in fuel), factor.gwp100 is not None, factor.value is not None]
    if kinds.count(True) != 1 or (not kinds[0] and any(part is not None for part in fuel)):
        raise ValueError(f"{where}: give either NCV, carbon content and oxidation rate, or gwp100, or value")
    return factor


@cache
def load_inventory_factors(directory: Path | None = None) -> InventoryFactorTable:
    """Load the shipped table (or one from `directory`, for tests and local overrides)."""
    if directory is None:
        text = (resources.files("netzero") / "data" / "inventory_factors.csv").read_text(encoding="utf-8")
    else:
        text = (directory / "inventory_factors.csv").read_text(encoding="utf-8")
    factors = tuple(_factor_from_row(row) for row in csv.DictReader(text.splitlines()))
    versions = {factor.table_version for factor in factors}
    if len(versions) != 1:
        raise ValueError(f"inventory factor table mixes versions {sorted(versions)}")
    return InventoryFactorTable(factors=factors, table_version=versions.pop())


# --- activity data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityLine:
    """One emission source (or one piece of green-electricity evidence) of the activity file.

    `line_number` is the file's own line (the header is line 1), as a spreadsheet shows it.
    """

    line_number: int
    source_id: str
    category: str
    description: str
    amount: Decimal
    unit: str
    factor_id: str | None = None
    factor_value: Decimal | None = None
    factor_unit: str | None = None
    factor_source: str | None = None
    reference: str | None = None
    generator_project: str | None = None
    evidence: str | None = None

    @property
    def scope(self) -> int | None:
        return SCOPE_OF_CATEGORY.get(self.category)


def gec_key(gec_id: str) -> str:
    """The form of a green electricity certificate id used to tell two ids apart.

    NFKC folds full-width characters typed with a Chinese input method (ＧＥＣ－２０２５…) onto
    their ASCII forms, so one certificate cannot be claimed twice under two spellings.
    """
    return unicodedata.normalize("NFKC", gec_id).strip().casefold()


_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_GROUPED_DECIMAL = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")
_PROJECT_ID = re.compile(r"prj_[a-z0-9]+")


def _decimal(text: str) -> Decimal | None:
    """A non-negative decimal as written ("1,200,000" and "280.5" are fine); None if it is not one."""
    text = unicodedata.normalize("NFKC", text).strip()
    if _GROUPED_DECIMAL.fullmatch(text):
        text = text.replace(",", "")
    return Decimal(text) if _PLAIN_DECIMAL.fullmatch(text) else None


def _is_negative_number(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text).strip()
    return text.startswith(("-", "−")) and _decimal(text.lstrip("-−")) is not None


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees, numbers in plain decimal notation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        number = Decimal(repr(value))
        return format(number, "f") if number.is_finite() else repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _csv_rows(content: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # What Excel writes for "CSV" on a Chinese-language Windows.
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            message = "the CSV file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8"
            raise ActivityDataInvalid([message]) from None
    return [(index, row) for index, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]


def _xlsx_rows(content: bytes) -> list[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
        raise ActivityDataInvalid(["the file is not a readable XLSX workbook; save it as .xlsx or .csv"]) from None
    sheet = workbook.worksheets[0]
    return [
        (index, [_cell_text(value) for value in row])
        for index, row in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    ]


def parse_activity_data(content: bytes, filename: str) -> list[ActivityLine]:
    """Read an activity file (.csv, or the first sheet of an .xlsx) into lines, or refuse it.

    Every problem the file alone can show is collected and raised at once; problems that need
    the factor table or the facility (an unknown factor id, scope 3 in a type I boundary) are
    found by `calculate_inventory`.
    """
    suffix = PurePath(filename).suffix.casefold()
    if suffix == ".csv":
        rows = _csv_rows(content)
    elif suffix == ".xlsx":
        rows = _xlsx_rows(content)
    else:
        raise ActivityDataInvalid([f"'{filename}': upload the activity data as a .csv or .xlsx file"])
    rows = [(number, [cell.strip() for cell in cells]) for number, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        raise ActivityDataInvalid(["the file is empty: it needs a header line and one line per emission source"])
    (header_number, header), body = rows[0], rows[1:]
    columns = _columns(header_number, header, body)
    if not body:
        raise ActivityDataInvalid([f"the file has a header but no activity lines under it (line {header_number})"])
    errors: list[str] = []
    lines: list[ActivityLine] = []
    for number, cells in body:
        extra = [cell for index, cell in enumerate(cells) if index not in columns.values() and cell]
        if extra:
            errors.append(f"line {number}: {len(extra)} cell(s) outside the named columns; remove them")
        record = {name: cells[index] if index < len(cells) else "" for name, index in columns.items()}
        line = _line(number, record, errors)
        if line is not None:
            lines.append(line)
    errors += _duplicate_errors(lines)
    if errors:
        raise ActivityDataInvalid(errors)
    return lines


def _columns(header_number: int, header: list[str], body: list[tuple[int, list[str]]]) -> dict[str, int]:
    errors: list[str] = []
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        if not name:
            if any(index < len(cells) and cells[index] for _, cells in body):
                errors.append(f"line {header_number}, column {index + 1}: a column with data has no header name")
        elif name not in COLUMNS:
            errors.append(
                f"line {header_number}: unknown column '{name}'; the columns are {', '.join(COLUMNS)} "
                "(put remarks in description)"
            )
        elif name in columns:
            errors.append(f"line {header_number}: column '{name}' appears twice")
        else:
            columns[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        errors.append(f"line {header_number}: missing column(s) {', '.join(missing)}; the header must name them")
    if errors:
        raise ActivityDataInvalid(errors)
    return columns


def _line(number: int, record: dict[str, str], errors: list[str]) -> ActivityLine | None:
    """One activity line, or None after adding its problems to `errors`."""
    found: list[str] = []

    def problem(column: str, message: str) -> None:
        found.append(f"line {number}, column {column}: {message}")

    def field(name: str) -> str | None:
        return record.get(name) or None

    source_id, category = record["source_id"], record["category"]
    if not source_id:
        problem("source_id", "give each line an id, unique in the file (e.g. DIESEL-TRUCKS)")
    known_categories = [*SCOPE_OF_CATEGORY, *EVIDENCE_CATEGORIES]
    if category not in known_categories:
        problem("category", f"unknown category '{category}'; use one of {', '.join(known_categories)}")

    amount = _decimal(record["amount"])
    if amount is None:
        if _is_negative_number(record["amount"]):
            problem("amount", f"negative amount {record['amount']}; amounts are quantities used, 0 or more")
        elif not record["amount"]:
            problem("amount", "give the quantity used in the period")
        else:
            problem("amount", f"'{record['amount']}' is not a decimal number (write e.g. 1200.5)")

    unit = unit_named(record["unit"])
    if unit is None:
        problem("unit", f"unknown unit '{record['unit']}'; use one of {', '.join(UNITS)}")
    elif category in (ELECTRICITY, *EVIDENCE_CATEGORIES) and unit.name not in ELECTRICITY_UNITS:
        problem("unit", f"electricity is counted in kWh or MWh, not '{unit.name}'")

    factor_id, factor_value_text = field("factor_id"), field("factor_value")
    factor_unit_text, factor_source = field("factor_unit"), field("factor_source")
    explicit = factor_value_text is not None or factor_unit_text is not None or factor_source is not None
    factor_value: Decimal | None = None
    factor_unit: FactorUnit | None = None
    if category == ELECTRICITY and (factor_id or explicit):
        problem(
            "factor_id" if factor_id else "factor_value",
            "purchased electricity takes no factor: the regional grid factor of the facility's province is "
            "applied, so every factory's location-based figure is comparable; show green electricity with "
            "green_certificate or green_power_contract lines",
        )
    elif category in EVIDENCE_CATEGORIES and (factor_id or explicit):
        problem("factor_id" if factor_id else "factor_value", f"a {category} line is evidence and takes no factor")
    elif factor_id and explicit:
        problem("factor_id", "give either factor_id or factor_value + factor_unit + factor_source, not both")
    elif explicit:
        factor_value, factor_unit = _explicit_factor(record, problem)
    elif not factor_id and category in SCOPE_OF_CATEGORY and category != ELECTRICITY:
        problem("factor_id", "give a factor_id from the factor table, or factor_value + factor_unit + factor_source")

    reference, generator_project = field("reference"), field("generator_project")
    if category in EVIDENCE_CATEGORIES and reference is None:
        what = "the certificate id (GEC-…)" if category == GREEN_CERTIFICATE else "the contract id"
        problem("reference", f"a {category} line needs {what} in reference")
    if generator_project is not None:
        if category != GREEN_CERTIFICATE:
            problem("generator_project", "only a green_certificate line names a generating project")
        elif not _PROJECT_ID.fullmatch(generator_project):
            problem("generator_project", f"'{generator_project}' is not a project id of this registry (prj_…)")

    if found or amount is None or unit is None:
        errors += found
        return None
    return ActivityLine(
        line_number=number,
        source_id=source_id,
        category=category,
        description=record.get("description", ""),
        amount=amount,
        unit=unit.name,
        factor_id=factor_id,
        factor_value=factor_value,
        factor_unit=factor_unit.name if factor_unit else None,
        factor_source=factor_source,
        reference=reference,
        generator_project=generator_project,
        evidence=field("evidence"),
    )


def _explicit_factor(
    record: dict[str, str], problem: Callable[[str, str], None]
) -> tuple[Decimal | None, FactorUnit | None]:
    value = _decimal(record.get("factor_value", ""))
    if value is None or value == 0:
        problem("factor_value", "give the factor as a positive decimal number")
    factor_unit = factor_unit_named(record.get("factor_unit", ""))
    if factor_unit is None:
        problem(
            "factor_unit",
            f"'{record.get('factor_unit', '')}' is not a factor unit; write kgCO2e/<unit> or tCO2e/<unit>, "
            f"the unit one of {', '.join(UNITS)}",
        )
    if not record.get("factor_source"):
        problem("factor_source", "a factor given in the file needs its source (publication, table, year)")
    return value, factor_unit


def _duplicate_errors(lines: Iterable[ActivityLine]) -> list[str]:
    errors: list[str] = []
    first_line: dict[tuple[str, str], int] = {}
    for line in lines:
        keys = [("source_id", line.source_id)]
        if line.category in EVIDENCE_CATEGORIES and line.reference:
            keys.append((line.category, gec_key(line.reference)))
        for kind, key in keys:
            if (kind, key) in first_line:
                column = "source_id" if kind == "source_id" else "reference"
                what = {"source_id": "source_id", GREEN_CERTIFICATE: "certificate", GREEN_POWER_CONTRACT: "contract"}
                written = line.source_id if kind == "source_id" else line.reference
                errors.append(
                    f"line {line.line_number}, column {column}: {what[kind]} '{written}' is already on line "
                    f"{first_line[(kind, key)]}; each may appear once"
                )
            else:
                first_line[(kind, key)] = line.line_number
    return errors


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryLineResult:
    line_number: int
    source_id: str
    category: str
    scope: int
    description: str
    amount: Decimal
    unit: str
    factor_id: str | None
    factor_value: str
    factor_unit: str
    source: str
    formula: str
    kg: int
    # Equal to kg except on purchased_electricity lines, where green electricity is taken off.
    market_kg: int
    market_formula: str | None
    reference: str | None
    evidence: str | None


class GreenCertificate(NamedTuple):
    """A GEC the file proves (stored as the list [gec_id, mwh, generator_project])."""

    gec_id: str
    mwh: Decimal
    # The public id (prj_…) of the generating project when it is registered here, else None.
    generator_project: str | None


class GreenPowerContract(NamedTuple):
    """A green power purchase contract (stored as the list [contract_id, mwh])."""

    contract_id: str
    mwh: Decimal


@dataclass(frozen=True)
class InventoryFactorUsed:
    factor_id: str
    value: str
    unit: str
    source: str
    table_version: str
    source_ids: list[str]


@dataclass(frozen=True)
class GridFactorUsed:
    factor_id: str
    value: Decimal
    unit: str
    source: str
    selection: str
    year: int
    grid_region: str
    table_version: str


@dataclass(frozen=True)
class InventoryResult:
    region: str
    period_start: date
    period_end: date
    boundary: str
    factor_table_version: str
    lines: list[InventoryLineResult]
    scope1_kg: int
    scope2_location_kg: int
    scope2_market_kg: int
    scope3_kg: int
    total_location_kg: int
    total_market_kg: int
    electricity_kwh: Decimal
    green_electricity_kwh: Decimal
    renewable_share_bp: int
    by_category_kg: dict[str, int]
    green_certificates: list[GreenCertificate]
    green_power_contracts: list[GreenPowerContract]
    factors_used: list[InventoryFactorUsed]
    grid_factor: GridFactorUsed

    @property
    def residual_kg(self) -> int:
        """What retired credits must cover: the market-based total.

        Market-based scope 2 counts the green electricity the factory bought and proved with
        certificates or contracts; the location-based total would ask offsets to cover
        emissions the factory has already paid to avoid.
        """
        return self.total_market_kg

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ints, strings (decimals and dates as text), lists, dicts and null only."""
        data = _jsonable(dataclasses.asdict(self))
        assert isinstance(data, dict)
        data["residual_kg"] = self.residual_kg
        return data


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"{type(value).__name__} has no JSON form in an inventory")


# --- calculation -----------------------------------------------------------------------------


def _number(value: Decimal | Fraction, places: int = 6) -> str:
    """A number for a formula: thousands grouped, exact if it ends within `places` decimals, else cut with '…'."""
    if isinstance(value, Decimal):
        return f"{value:,}"
    scaled = value * 10**places
    truncated = Fraction(math.floor(scaled), 10**places)
    text = f"{Decimal(truncated.numerator) / Decimal(truncated.denominator):,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if truncated == value else f"{text}…"


def _decimal_text(value: Fraction, places: int = 9) -> str:
    """A factor as a decimal string: exact when it ends within `places` decimals, else rounded half up."""
    scaled = value * 10**places
    rounded = math.floor(scaled + Fraction(1, 2))
    text = format(Decimal(rounded).scaleb(-places), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _rounded(kg: Fraction) -> tuple[int, str]:
    whole = math.ceil(kg)
    if whole == kg:
        return whole, f"{whole:,} kg"
    return whole, f"{_number(kg)} kg → {whole:,} kg (rounded up)"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


@dataclass(frozen=True)
class _Applied:
    factor_id: str | None
    factor_value: str
    factor_unit: str
    source: str
    table_version: str
    kg: Fraction
    formula: str


def _amount_text(line: ActivityLine, unit: Unit, target: Unit) -> tuple[Fraction, str]:
    """The line's amount in the factor's unit, and how a reader sees the conversion."""
    written = f"{line.amount:,} {unit.name}"
    converted = Fraction(line.amount) * unit.per_base / target.per_base
    if unit == target:
        return converted, written
    times = " × " if target.name[0].isdigit() else " "  # 3.2 × 10^4 Nm3, 1.85 t
    return converted, f"{written} (= {_number(converted)}{times}{target.name})"


def _from_table(line: ActivityLine, unit: Unit, factor: InventoryFactor) -> _Applied:
    amount, amount_text = _amount_text(line, unit, factor.activity_unit)
    kg_exact = amount * factor.kg_per_activity_unit
    if factor.is_fuel:
        assert factor.ncv is not None and factor.carbon_content_tc_per_gj is not None
        assert factor.oxidation_rate is not None
        steps = (
            f"{amount_text} × {factor.ncv} {factor.ncv_unit} × {factor.carbon_content_tc_per_gj} tC/GJ"
            f" × {_percent(factor.oxidation_rate)} × 44/12"
        )
        value_text = _decimal_text(factor.per_activity_unit)
    elif factor.gwp100 is not None:
        steps = f"{amount_text} × GWP {factor.gwp100}"
        value_text = str(factor.gwp100)
    else:
        steps = f"{amount_text} × {factor.value} {factor.value_unit.name}"
        value_text = str(factor.value)
    return _Applied(
        factor.factor_id,
        value_text,
        factor.value_unit.name,
        factor.source,
        factor.table_version,
        kg_exact,
        _formula(steps, kg_exact, factor.value_unit),
    )


def _formula(steps: str, kg_exact: Fraction, value_unit: FactorUnit) -> str:
    _, rounded = _rounded(kg_exact)
    if value_unit.kg_per_mass_unit == 1:
        return f"{steps} = {rounded}"
    gas = "tCO2e" if value_unit.co2e else "tCO2"
    return f"{steps} = {_number(kg_exact / 1000)} {gas} = {rounded}"


def _explicit(line: ActivityLine, unit: Unit) -> _Applied:
    assert line.factor_value is not None and line.factor_unit is not None and line.factor_source is not None
    factor_unit = factor_unit_named(line.factor_unit)
    assert factor_unit is not None
    amount, amount_text = _amount_text(line, unit, factor_unit.activity_unit)
    kg_exact = amount * Fraction(line.factor_value) * factor_unit.kg_per_mass_unit
    steps = f"{amount_text} × {line.factor_value} {factor_unit.name} (stated in the file)"
    return _Applied(
        None,
        str(line.factor_value),
        factor_unit.name,
        line.factor_source,
        "activity data",
        kg_exact,
        _formula(steps, kg_exact, factor_unit),
    )


def _check_parameters(period_start: date, period_end: date, boundary: str) -> list[str]:
    errors = []
    if boundary not in BOUNDARIES:
        errors.append(f"boundary '{boundary}': use I (scope 1 and 2) or II (scope 1, 2 and 3), per T/CECA-G 0171-2022")
    if period_end < period_start:
        errors.append(f"the period ends ({period_end}) before it starts ({period_start})")
    return errors


def _grid_factor(region: str, year: int) -> GridFactorUsed:
    table = load_factor_table()
    try:
        grid_region = table.grid_region_of(region)
        factor, selection = table.regional_factor(grid_region, year)
    except FactorNotFound as error:
        raise ActivityDataInvalid([f"facility region: {error}"]) from None
    return GridFactorUsed(
        factor_id=factor.factor_id,
        value=factor.value_kg_per_kwh,
        unit=GRID_FACTOR_UNIT,
        source=factor.source,
        selection=selection,
        year=factor.year,
        grid_region=grid_region,
        table_version=factor.table_version,
    )


def _apply(line: ActivityLine, table: InventoryFactorTable, boundary: str, errors: list[str]) -> _Applied | None:
    """The factor applied to one emission line, or None after adding its problems to `errors`."""
    where = f"line {line.line_number}"
    unit = unit_named(line.unit)
    found: list[str] = []
    if line.category not in SCOPE_OF_CATEGORY:
        found.append(f"{where}, column category: unknown category '{line.category}'")
    elif line.scope == 3 and boundary == "I":
        found.append(
            f"{where}, column category: '{line.category}' is scope 3, outside a type I boundary (scope 1 and 2); "
            "remove the line or report a type II inventory"
        )
    if unit is None:
        found.append(f"{where}, column unit: unknown unit '{line.unit}'")
    if not line.amount.is_finite() or line.amount < 0:
        found.append(f"{where}, column amount: amounts are quantities used, 0 or more")
    applied: _Applied | None = None
    if found or unit is None:
        pass
    elif line.factor_id is not None:
        factor = table.get(line.factor_id)
        allowed = FACTOR_CATEGORIES_OF.get(line.category, ())
        if factor is None:
            known = ", ".join(table.factor_ids)
            found.append(f"{where}, column factor_id: unknown factor_id '{line.factor_id}'; known ids: {known}")
        elif factor.category not in allowed:
            usable = [f.factor_id for f in table.factors if f.category in allowed]
            found.append(
                f"{where}, column factor_id: {factor.factor_id} is a {factor.category} factor, not for a "
                f"{line.category} line; "
                + (f"use one of {', '.join(usable)}" if usable else "give factor_value, factor_unit and factor_source")
            )
        elif unit.dimension != factor.activity_unit.dimension:
            per = factor.activity_unit
            found.append(
                f"{where}, column unit: {factor.factor_id} is per {per.name} ({per.dimension}); "
                f"'{unit.name}' is a {unit.dimension}: convert the amount"
            )
        else:
            applied = _from_table(line, unit, factor)
    elif line.factor_value is not None and line.factor_unit is not None and line.factor_source:
        factor_unit = factor_unit_named(line.factor_unit)
        if factor_unit is None:
            found.append(f"{where}, column factor_unit: '{line.factor_unit}' is not a factor unit (e.g. kgCO2e/t)")
        elif factor_unit.activity_unit.dimension != unit.dimension:
            found.append(
                f"{where}, column unit: the factor is per {factor_unit.activity_unit.name} "
                f"({factor_unit.activity_unit.dimension}); '{unit.name}' is a {unit.dimension}"
            )
        elif line.factor_value <= 0:
            found.append(f"{where}, column factor_value: the factor must be positive")
        else:
            applied = _explicit(line, unit)
    else:
        found.append(f"{where}, column factor_id: give a factor_id, or factor_value + factor_unit + factor_source")
    errors += found
    return applied


def _electricity_kwh(line: ActivityLine) -> Decimal:
    unit = UNITS[line.unit]
    return line.amount * Decimal(unit.per_base.numerator) / Decimal(unit.per_base.denominator)


def calculate_inventory(
    lines: list[ActivityLine],
    *,
    region: str,
    period_start: date,
    period_end: date,
    boundary: str,
    factors: InventoryFactorTable | None = None,
) -> InventoryResult:
    """Scope 1, 2 (location- and market-based) and 3 of one facility for one reporting year.

    Purchased electricity takes the MEE/NBS regional grid factor of the facility's province for
    the year the period starts in (the latest published year when that one is not yet out), as the
    PV methodology does. Market-based: the green electricity proved by certificates and
    contracts is taken off the electricity lines in file order, the rest at the same grid factor
    (China publishes no residual mix).
    """
    table = factors if factors is not None else load_inventory_factors()
    parameter_errors = _check_parameters(period_start, period_end, boundary)
    if parameter_errors:
        raise ActivityDataInvalid(parameter_errors)
    grid = _grid_factor(region, period_start.year)
    errors = [] if lines else ["no activity lines: the inventory needs at least one emission source"]
    errors += _duplicate_errors(lines)

    electricity = [line for line in lines if line.category == ELECTRICITY]
    green = [line for line in lines if line.category in EVIDENCE_CATEGORIES]
    for line in [*electricity, *green]:
        if line.unit not in ELECTRICITY_UNITS:
            errors.append(f"line {line.line_number}, column unit: electricity is counted in kWh or MWh")
        elif not line.amount.is_finite() or line.amount < 0:
            errors.append(f"line {line.line_number}, column amount: amounts are quantities used, 0 or more")
        elif line.factor_id or line.factor_value is not None:
            errors.append(f"line {line.line_number}, column factor_id: a {line.category} line takes no factor")
    applied = {
        line.source_id: _apply(line, table, boundary, errors)
        for line in lines
        if line.category not in (ELECTRICITY, *EVIDENCE_CATEGORIES)
    }
    if errors:
        raise ActivityDataInvalid(errors)

    electricity_kwh = sum((_electricity_kwh(line) for line in electricity), Decimal(0))
    green_kwh = sum((_electricity_kwh(line) for line in green), Decimal(0))
    if green_kwh > electricity_kwh:
        numbers = ", ".join(str(line.line_number) for line in green)
        raise ActivityDataInvalid(
            [
                f"line(s) {numbers}: green electricity {green_kwh:,} kWh is more than the {electricity_kwh:,} kWh "
                "of purchased electricity; certificates and contracts can only cover electricity the factory used "
                "in the period"
            ]
        )

    results: list[InventoryLineResult] = []
    green_left = green_kwh
    for line in lines:
        if line.category == ELECTRICITY:
            result, green_left = _electricity_line(line, grid, green_left)
            results.append(result)
        elif line.category not in EVIDENCE_CATEGORIES:
            found = applied[line.source_id]
            assert found is not None  # every line without a factor was an error above
            results.append(_line_result(line, found))

    return _result(
        results,
        lines=lines,
        region=region,
        period=(period_start, period_end),
        boundary=boundary,
        table=table,
        grid=grid,
        applied=applied,
        electricity_kwh=electricity_kwh,
        green_kwh=green_kwh,
    )


def _line_result(line: ActivityLine, applied: _Applied) -> InventoryLineResult:
    kg = math.ceil(applied.kg)
    scope = line.scope
    assert scope is not None
    return InventoryLineResult(
        line_number=line.line_number,
        source_id=line.source_id,
        category=line.category,
        scope=scope,
        description=line.description,
        amount=line.amount,
        unit=line.unit,
        factor_id=applied.factor_id,
        factor_value=applied.factor_value,
        factor_unit=applied.factor_unit,
        source=applied.source,
        formula=applied.formula,
        kg=kg,
        market_kg=kg,
        market_formula=None,
        reference=line.reference,
        evidence=line.evidence,
    )


def _electricity_line(
    line: ActivityLine, grid: GridFactorUsed, green_left: Decimal
) -> tuple[InventoryLineResult, Decimal]:
    kwh = _electricity_kwh(line)
    factor = f"{grid.value} {grid.unit}"
    amount_text = f"{line.amount:,} {line.unit}" + ("" if line.unit == "kWh" else f" (= {kwh:,} kWh)")
    kg, rounded = _rounded(Fraction(kwh) * Fraction(grid.value))
    covered = min(kwh, green_left)
    market_kg, market_rounded = _rounded(Fraction(kwh - covered) * Fraction(grid.value))
    market_formula = (
        f"({kwh:,} kWh − {covered:,} kWh green) × {factor} = {market_rounded}"
        if covered
        else f"{kwh:,} kWh × {factor} = {market_rounded} (no green electricity left to match)"
    )
    result = InventoryLineResult(
        line_number=line.line_number,
        source_id=line.source_id,
        category=line.category,
        scope=2,
        description=line.description,
        amount=line.amount,
        unit=line.unit,
        factor_id=grid.factor_id,
        factor_value=str(grid.value),
        factor_unit=grid.unit,
        source=grid.source,
        formula=f"{amount_text} × {factor} = {rounded}",
        kg=kg,
        market_kg=market_kg,
        market_formula=market_formula,
        reference=line.reference,
        evidence=line.evidence,
    )
    return result, green_left - covered


def _result(
    results: list[InventoryLineResult],
    *,
    lines: list[ActivityLine],
    region: str,
    period: tuple[date, date],
    boundary: str,
    table: InventoryFactorTable,
    grid: GridFactorUsed,
    applied: dict[str, _Applied | None],
    electricity_kwh: Decimal,
    green_kwh: Decimal,
) -> InventoryResult:
    def total(scope: int, market: bool = False) -> int:
        return sum(result.market_kg if market else result.kg for result in results if result.scope == scope)

    by_category: dict[str, int] = {}
    for result in results:
        by_category[result.category] = by_category.get(result.category, 0) + result.kg

    used: dict[tuple[str, str, str, str], list[str]] = {}
    for source_id, found in applied.items():
        assert found is not None
        factor_id = found.factor_id or f"explicit:{source_id}"
        used.setdefault((factor_id, found.factor_value, found.factor_unit, found.source), []).append(source_id)
    versions = {found.factor_id: found.table_version for found in applied.values() if found is not None}
    factors_used = [
        InventoryFactorUsed(
            factor_id=factor_id,
            value=value,
            unit=unit,
            source=source,
            table_version=versions.get(factor_id, "activity data"),
            source_ids=source_ids,
        )
        for (factor_id, value, unit, source), source_ids in used.items()
    ]

    scope1, scope3 = total(1), total(3)
    scope2_location, scope2_market = total(2), total(2, market=True)
    share_bp = math.floor(green_kwh * 10_000 / electricity_kwh) if electricity_kwh else 0
    return InventoryResult(
        region=region,
        period_start=period[0],
        period_end=period[1],
        boundary=boundary,
        factor_table_version=table.table_version,
        lines=results,
        scope1_kg=scope1,
        scope2_location_kg=scope2_location,
        scope2_market_kg=scope2_market,
        scope3_kg=scope3,
        total_location_kg=scope1 + scope2_location + scope3,
        total_market_kg=scope1 + scope2_market + scope3,
        electricity_kwh=electricity_kwh,
        green_electricity_kwh=green_kwh,
        renewable_share_bp=share_bp,
        by_category_kg=by_category,
        green_certificates=[
            GreenCertificate(line.reference or "", _mwh(line), line.generator_project)
            for line in lines
            if line.category == GREEN_CERTIFICATE
        ],
        green_power_contracts=[
            GreenPowerContract(line.reference or "", _mwh(line))
            for line in lines
            if line.category == GREEN_POWER_CONTRACT
        ],
        factors_used=factors_used,
        grid_factor=grid,
    )


def _mwh(line: ActivityLine) -> Decimal:
    return _electricity_kwh(line) / 1000
