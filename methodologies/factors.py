"""The versioned emission-factor table shipped in methodologies/data/, and factor choice.

Values are kept as `Decimal` from the CSV text and multiplied as exact fractions, so
"45,000 kWh × 0.7035" is 31,657.5 kg exactly before it is floored, on every machine.
"""

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from methodologies.errors import FactorNotFound
from methodologies.quantification import FactorUsed

GRID_FACTOR_UNIT = "kgCO2/kWh"
GRID_FACTOR_KIND = "grid_electricity"
GridRegion = Literal["NORTH", "NORTHEAST", "EAST", "CENTRAL", "NORTHWEST", "SOUTH", "SOUTHWEST"]


@dataclass(frozen=True)
class GridFactor:
    factor_id: str
    # A regional grid (EAST, …), NATIONAL, or a province code for a local factor (CN-SH).
    scope: str
    year: int
    value_kg_per_kwh: Decimal
    source: str
    published: str
    table_version: str


@dataclass(frozen=True)
class FactorTable:
    grid_factors: tuple[GridFactor, ...]
    # ISO 3166-2 province code → regional grid, per the MEE regional grid division.
    province_regions: Mapping[str, str]

    def by_id(self, factor_id: str) -> GridFactor:
        for factor in self.grid_factors:
            if factor.factor_id == factor_id:
                return factor
        raise FactorNotFound(f"no emission factor with id '{factor_id}' in the factor table")

    def grid_region_of(self, province_code: str) -> str:
        try:
            return self.province_regions[province_code]
        except KeyError:
            raise FactorNotFound(
                f"region '{province_code}' is not a mainland province code (e.g. CN-JS)"
            ) from None

    def regional_factor(self, grid_region: str, vintage_year: int) -> tuple[GridFactor, str]:
        published = sorted(
            (factor for factor in self.grid_factors if factor.scope == grid_region), key=lambda f: f.year
        )
        if not published:
            raise FactorNotFound(f"no published factor for the {grid_region} grid")
        for factor in published:
            if factor.year == vintage_year:
                return factor, "published for the vintage year"
        return published[-1], "latest published year"


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


@cache
def load_factor_table(directory: Path | None = None) -> FactorTable:
    """Load the shipped table (or one from `directory`, for tests and local overrides)."""
    if directory is None:
        data = resources.files("methodologies") / "data"
        factors_text = (data / "grid_emission_factors.csv").read_text(encoding="utf-8")
        regions_text = (data / "province_grid_regions.csv").read_text(encoding="utf-8")
    else:
        factors_text = (directory / "grid_emission_factors.csv").read_text(encoding="utf-8")
        regions_text = (directory / "province_grid_regions.csv").read_text(encoding="utf-8")
    factors = tuple(
        GridFactor(
            factor_id=row["factor_id"],
            scope=row["scope"],
            year=int(row["year"]),
            value_kg_per_kwh=Decimal(row["value_kg_per_kwh"]),
            source=row["source"],
            published=row["published"],
            table_version=row["table_version"],
        )
        for row in _read_csv(factors_text)
    )
    regions = {row["iso_code"]: row["grid_region"] for row in _read_csv(regions_text)}
    return FactorTable(grid_factors=factors, province_regions=regions)


class PinnedFactor(BaseModel):
    """A grid factor fixed by the project instead of the regional default.

    Either the id of a row in the factor table (e.g. SH-SEEB-2022-LOCAL), or an id with a
    value and its source, for a factor the table does not ship; the source is mandatory so
    the result can always say where a number came from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    factor_id: str
    value_kg_per_kwh: Decimal | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _value_needs_source(self) -> "PinnedFactor":
        if self.value_kg_per_kwh is not None and not self.source:
            raise ValueError("a pinned factor value needs its source")
        if self.value_kg_per_kwh is not None and self.value_kg_per_kwh <= 0:
            raise ValueError("a pinned factor value must be positive")
        return self


class GridParams(BaseModel):
    """Parameters every grid-electricity methodology shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    # Only where a province spans two grids: eastern Inner Mongolia (Mengdong) is NORTHEAST.
    grid_region: GridRegion | None = None
    grid_factor_pin: PinnedFactor | None = None
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class ResolvedFactor:
    factor_id: str
    value: Decimal
    source: str
    version: str
    selection: str

    @property
    def value_fraction(self) -> Fraction:
        return Fraction(self.value)


def resolve_grid_factor(
    table: FactorTable,
    params: GridParams,
    vintage_year: int,
    methodology_pins: Mapping[str, str],
) -> ResolvedFactor:
    """Project pin, else methodology-version pin, else the regional factor for the year."""
    pin = params.grid_factor_pin
    if pin is not None and pin.value_kg_per_kwh is not None:
        return ResolvedFactor(
            pin.factor_id, pin.value_kg_per_kwh, pin.source or "", "project", "pinned by project"
        )
    if pin is not None:
        factor = table.by_id(pin.factor_id)
        return _resolved(factor, "pinned by project")
    if GRID_FACTOR_KIND in methodology_pins:
        return _resolved(table.by_id(methodology_pins[GRID_FACTOR_KIND]), "pinned by methodology version")
    grid_region = params.grid_region or table.grid_region_of(params.region)
    factor, selection = table.regional_factor(grid_region, vintage_year)
    return _resolved(factor, selection)


def _resolved(factor: GridFactor, selection: str) -> ResolvedFactor:
    return ResolvedFactor(
        factor.factor_id,
        factor.value_kg_per_kwh,
        factor.source,
        f"factor table {factor.table_version}",
        selection,
    )


def factors_used(by_year: Mapping[int, ResolvedFactor], unit: str = GRID_FACTOR_UNIT) -> list[FactorUsed]:
    """One entry per distinct factor, listing the vintage years it was applied to."""
    years_of: dict[ResolvedFactor, list[int]] = {}
    for year, resolved in sorted(by_year.items()):
        years_of.setdefault(resolved, []).append(year)
    return [
        FactorUsed(
            factor_id=resolved.factor_id,
            value=str(resolved.value),
            unit=unit,
            source=resolved.source,
            version=resolved.version,
            selection=resolved.selection,
            vintage_years=tuple(years),
        )
        for resolved, years in years_of.items()
    ]
