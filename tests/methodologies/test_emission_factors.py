import dataclasses
from decimal import Decimal

import pytest

from methodologies.errors import FactorNotFound, ParameterError
from methodologies.factors import GridParams, load_factor_table, resolve_grid_factor
from methodologies.pv_dg import METHODOLOGY as PV
from tests.methodologies.methodology_builders import daytime_pv, pv_params

TABLE = load_factor_table()

PUBLISHED = {
    ("NATIONAL", 2021): "0.5568",
    ("NATIONAL", 2022): "0.5366",
    ("NATIONAL", 2023): "0.5306",
    ("NORTH", 2022): "0.6776",
    ("NORTHEAST", 2022): "0.5564",
    ("EAST", 2022): "0.5617",
    ("CENTRAL", 2022): "0.5395",
    ("NORTHWEST", 2022): "0.5857",
    ("SOUTH", 2022): "0.3869",
    ("SOUTHWEST", 2022): "0.2268",
    ("NORTH", 2023): "0.6361",
    ("NORTHEAST", 2023): "0.5122",
    ("EAST", 2023): "0.5500",
    ("CENTRAL", 2023): "0.5271",
    ("NORTHWEST", 2023): "0.5543",
    ("SOUTH", 2023): "0.4042",
    ("SOUTHWEST", 2023): "0.2472",
}


@pytest.mark.parametrize(("scope_year", "value"), PUBLISHED.items())
def test_shipped_mee_nbs_factors(scope_year: tuple[str, int], value: str) -> None:
    scope, year = scope_year
    factor = TABLE.by_id(f"MEE-NBS-{year}-{scope}")
    assert (factor.scope, factor.year, factor.value_kg_per_kwh) == (scope, year, Decimal(value))
    assert "MEE & NBS" in factor.source


def test_every_row_has_a_source_and_a_unique_id() -> None:
    ids = [factor.factor_id for factor in TABLE.grid_factors]
    assert len(ids) == len(set(ids)) == 18
    assert all(factor.source and factor.published for factor in TABLE.grid_factors)
    assert TABLE.by_id("SH-SEEB-2022-LOCAL").value_kg_per_kwh == Decimal("0.42")


def test_every_mainland_province_maps_to_a_regional_grid() -> None:
    regions = TABLE.province_regions
    assert len(regions) == 31
    by_grid: dict[str, set[str]] = {}
    for code, grid in regions.items():
        by_grid.setdefault(grid, set()).add(code)
    assert by_grid == {
        "NORTH": {"CN-BJ", "CN-TJ", "CN-HE", "CN-SX", "CN-SD", "CN-NM"},
        "NORTHEAST": {"CN-LN", "CN-JL", "CN-HL"},
        "EAST": {"CN-SH", "CN-JS", "CN-ZJ", "CN-AH", "CN-FJ"},
        "CENTRAL": {"CN-HA", "CN-HB", "CN-HN", "CN-JX"},
        "NORTHWEST": {"CN-SN", "CN-GS", "CN-QH", "CN-NX", "CN-XJ"},
        "SOUTH": {"CN-GD", "CN-GX", "CN-YN", "CN-GZ", "CN-HI"},
        "SOUTHWEST": {"CN-SC", "CN-CQ", "CN-XZ"},
    }


def test_default_is_the_vintage_year_else_the_latest_published_year() -> None:
    params = GridParams(region="CN-GD")
    assert resolve_grid_factor(TABLE, params, 2022, {}).value == Decimal("0.3869")
    latest = resolve_grid_factor(TABLE, params, 2025, {})
    assert (latest.factor_id, latest.selection) == ("MEE-NBS-2023-SOUTH", "latest published year")
    # Mengdong (eastern Inner Mongolia) is on the Northeast grid.
    mengdong = resolve_grid_factor(TABLE, GridParams(region="CN-NM", grid_region="NORTHEAST"), 2023, {})
    assert mengdong.value == Decimal("0.5122")


def test_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(FactorNotFound, match="region 'CN-XX' is not a mainland province code"):
        PV.quantify(daytime_pv(days=1), pv_params(region="CN-XX"))


def test_project_pin_by_value_needs_a_source() -> None:
    with pytest.raises(ParameterError, match="grid_factor_pin"):
        PV.quantify(
            daytime_pv(days=1), pv_params(grid_factor_pin={"factor_id": "X", "value_kg_per_kwh": "0.5"})
        )
    pinned = PV.quantify(
        daytime_pv(days=1),
        pv_params(
            grid_factor_pin={"factor_id": "LOCAL-1", "value_kg_per_kwh": "0.5", "source": "city notice"}
        ),
    )
    assert pinned.totals.net_reduction_kg == 151  # 303 kWh × 0.5 = 151.5
    assert (pinned.factors[0].factor_id, pinned.factors[0].source) == ("LOCAL-1", "city notice")


def test_methodology_version_pin_and_project_pin_precedence() -> None:
    shanghai_version = dataclasses.replace(
        PV, version="1.0-SH", pinned_factor_ids={"grid_electricity": "SH-SEEB-2022-LOCAL"}
    )
    by_version = shanghai_version.quantify(daytime_pv(days=1), pv_params())
    assert by_version.methodology_version == "1.0-SH"
    assert (by_version.factors[0].factor_id, by_version.factors[0].selection) == (
        "SH-SEEB-2022-LOCAL",
        "pinned by methodology version",
    )
    assert by_version.totals.net_reduction_kg == 127  # 303 kWh × 0.42 = 127.26
    by_project = shanghai_version.quantify(
        daytime_pv(days=1), pv_params(grid_factor_pin={"factor_id": "MEE-NBS-2023-NATIONAL"})
    )
    assert by_project.factors[0].selection == "pinned by project"
    assert by_project.totals.net_reduction_kg == 160  # 303 × 0.5306 = 160.77


def test_factor_multiplication_is_exact_decimal() -> None:
    # 0.1 + 0.2 style float error would make 3 × 0.5306 × 1000 ≠ 1591.8; here it is exact.
    data = daytime_pv(days=1, kwh=0.1)  # 0.1, 1.1, 0.1, 1.1, 0.1, 1.1 = 3.6 kWh
    result = PV.quantify(data, pv_params(grid_factor_pin={"factor_id": "MEE-NBS-2023-NATIONAL"}))
    assert result.totals.credited_energy_wh == 3_600
    assert result.totals.net_reduction_kg == 1  # 3.6 × 0.5306 = 1.91016
