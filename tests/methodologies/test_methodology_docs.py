"""The worked examples in docs/methodologies/ are the ones the tests compute."""

from pathlib import Path

import pandas as pd
import pytest

from methodologies.ev_charging import METHODOLOGY as EV
from methodologies.lighting import METHODOLOGY as LIGHT
from methodologies.pv_dg import METHODOLOGY as PV
from methodologies.wetland import METHODOLOGY as WETLAND
from tests.methodologies.methodology_builders import (
    EAST_2012_PIN,
    WORKED_EXAMPLE_PARAMS,
    light_params,
    nights,
    worked_example_data,
    worked_example_rows,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "methodologies"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name", ["README.md", "CIR-PV-DG.md", "CIR-EV-CHG.md", "CIR-LIGHT.md", "CIR-WET-SINK.md"]
)
def test_every_concept_page_exists(name: str) -> None:
    assert page(name).startswith("# ")


def test_pv_page_matches_the_computation() -> None:
    result = PV.quantify(worked_example_data(), WORKED_EXAMPLE_PARAMS)
    assert f"net reduction = **{result.totals.net_reduction_kg:,} kg**" in page("CIR-PV-DG.md")


def test_ev_page_matches_the_computation() -> None:
    data = pd.DataFrame(
        [("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T18:00:00+08:00", 1000.0)],
        columns=["charger_id", "session_id", "start", "end", "energy_kwh"],
    )
    result = EV.quantify(data, {"region": "CN-JS", "charger_rated_kw": "120"})
    text = page("CIR-EV-CHG.md")
    assert f"**{result.totals.baseline_kg} kg**" in text
    assert f"net = 604 − 550 = **{result.totals.net_reduction_kg} kg CO2e**" in text


def test_lighting_page_matches_the_computation() -> None:
    result = LIGHT.quantify(nights(250, 10.0), light_params(grid_factor_pin=EAST_2012_PIN))
    assert f"net = 52,762 − 21,105 = **{result.totals.net_reduction_kg:,} kg CO2e**" in page("CIR-LIGHT.md")


def test_wetland_page_matches_the_computation() -> None:
    result = WETLAND.quantify(pd.DataFrame(worked_example_rows()), {})
    text = page("CIR-WET-SINK.md")
    for vintage in result.vintages:
        row = (
            f"| {vintage.vintage_year} | {'184' if vintage.vintage_year == 2022 else '181'}/365 | "
            f"{vintage.removals_kg:,} | {vintage.project_kg:,} | {vintage.deductions.uncertainty_kg:,} | "
            f"{vintage.net_reduction_kg + vintage.deductions.buffer_kg:,} | {vintage.net_reduction_kg:,} | "
            f"{vintage.deductions.buffer_kg:,} |"
        )
        assert row in text
    assert f"Total net **{result.totals.net_reduction_kg:,} kg CO2e**" in text
    assert f"**{result.totals.deductions.buffer_kg:,} kg** to the buffer pool" in text
