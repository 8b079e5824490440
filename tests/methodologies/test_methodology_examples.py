"""Each methodology quantifies its documented worked example from the command line.

The inputs of every worked example in docs/methodologies/<ID>.md ship as
docs/methodologies/examples/<ID>/{data.csv,params.json}. These tests run them through the main
`cir` app and hold three things together: the figures hard-coded here, the figures the page
states, and what the code computes from the shipped files. None can change without the others.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
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

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "methodologies"

runner = CliRunner()


@dataclass(frozen=True)
class Figure:
    """One number of a worked example: where it is in the JSON result, and how the page states it.

    `vintage` None means `totals`; otherwise the vintage of that year. `field` may be dotted
    (`deductions.buffer_kg`).
    """

    vintage: int | None
    field: str
    value: int
    stated: str


@dataclass(frozen=True)
class Example:
    methodology_id: str
    vintage_years: tuple[int, ...]
    figures: tuple[Figure, ...]


# The rows of the page's vintage table (`| vintage | share | removals | CH4 | uncertainty | verified | net |
# buffer |`).
WETLAND_2022_ROW = "| 2022 | 184/365 | 90,756 | 27,341 | 6,812 | 56,603 | 50,942 | 5,661 |"
WETLAND_2023_ROW = "| 2023 | 181/365 | 89,276 | 26,896 | 6,701 | 55,679 | 50,111 | 5,568 |"

EXAMPLES = (
    Example(
        "CIR-PV-DG",
        (2023,),
        (
            Figure(None, "credited_energy_wh", 1_100_000_000, "(999.5 + 1,000.5) = **1,100,000 kWh**"),
            Figure(None, "baseline_kg", 462_000, "baseline = 1,100,000 × 0.42 = **462,000 kg CO2e = 462 t**"),
            Figure(2023, "net_reduction_kg", 462_000, "net reduction = **462,000 kg**"),
            Figure(None, "net_reduction_kg", 462_000, "net reduction = **462,000 kg**"),
        ),
    ),
    Example(
        "CIR-EV-CHG",
        (2023,),
        (
            Figure(None, "baseline_kg", 604, "baseline = 281.25 × 2.15 = 604.6875 → **604 kg**"),
            Figure(None, "project_kg", 550, "project = 1,000 × 0.5500 = **550 kg**"),
            Figure(2023, "net_reduction_kg", 54, "net = 604 − 550 = **54 kg CO2e**"),
            Figure(None, "net_reduction_kg", 54, "net = 604 − 550 = **54 kg CO2e**"),
        ),
    ),
    Example(
        "CIR-LIGHT",
        (2012,),
        (
            Figure(None, "baseline_kg", 52_762, "× 0.7035 = 52,762.5 → **52,762 kg**"),
            Figure(None, "project_kg", 21_105, "30,000 kWh → × 0.7035 = **21,105 kg**"),
            Figure(None, "credited_energy_wh", 45_000_000, "saving = **45,000 kWh**"),
            Figure(2012, "net_reduction_kg", 31_657, "net = 52,762 − 21,105 = **31,657 kg CO2e**"),
            Figure(None, "net_reduction_kg", 31_657, "net = 52,762 − 21,105 = **31,657 kg CO2e**"),
        ),
    ),
    Example(
        "CIR-WET-SINK",
        (2022, 2023),
        (
            Figure(2022, "removals_kg", 90_756, WETLAND_2022_ROW),
            Figure(2022, "project_kg", 27_341, WETLAND_2022_ROW),
            Figure(2022, "deductions.uncertainty_kg", 6_812, WETLAND_2022_ROW),
            Figure(2022, "net_reduction_kg", 50_942, WETLAND_2022_ROW),
            Figure(2022, "deductions.buffer_kg", 5_661, WETLAND_2022_ROW),
            Figure(2023, "removals_kg", 89_276, WETLAND_2023_ROW),
            Figure(2023, "project_kg", 26_896, WETLAND_2023_ROW),
            Figure(2023, "deductions.uncertainty_kg", 6_701, WETLAND_2023_ROW),
            Figure(2023, "net_reduction_kg", 50_111, WETLAND_2023_ROW),
            Figure(2023, "deductions.buffer_kg", 5_568, WETLAND_2023_ROW),
            Figure(None, "net_reduction_kg", 101_053, "Total net **101,053 kg CO2e** to the project"),
            Figure(None, "deductions.buffer_kg", 11_229, "**11,229 kg** to the buffer pool"),
        ),
    ),
)

IDS = [example.methodology_id for example in EXAMPLES]


def data_path(methodology_id: str) -> Path:
    return DOCS / "examples" / methodology_id / "data.csv"


def params_path(methodology_id: str) -> Path:
    return DOCS / "examples" / methodology_id / "params.json"


def page(methodology_id: str) -> str:
    return (DOCS / f"{methodology_id}.md").read_text(encoding="utf-8")


def run_it_section(methodology_id: str) -> str:
    _, heading, section = page(methodology_id).partition("\n## Run it")
    assert heading, f"{methodology_id}.md has no '## Run it' section"
    return section


def fenced_block(section: str, language: str) -> list[str]:
    """The lines of the first ```language block of a page section."""
    _, opening, rest = section.partition(f"```{language}\n")
    assert opening, f"no ```{language} block"
    body, closing, _ = rest.partition("```")
    assert closing, f"unclosed ```{language} block"
    return body.rstrip("\n").split("\n")


def quantify_json(methodology_id: str) -> dict[str, Any]:
    result = runner.invoke(
        app,
        [
            "methodology",
            "quantify",
            methodology_id,
            "--data",
            str(data_path(methodology_id)),
            "--params",
            str(params_path(methodology_id)),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return orjson.loads(result.stdout)


def figure_value(quantification: dict[str, Any], figure: Figure) -> int:
    if figure.vintage is None:
        node: Any = quantification["totals"]
    else:
        [node] = [v for v in quantification["vintages"] if v["vintage_year"] == figure.vintage]
    for key in figure.field.split("."):
        node = node[key]
    return node


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_the_shipped_example_quantifies_to_the_figures_on_the_page(example: Example) -> None:
    text = page(example.methodology_id)
    quantification = quantify_json(example.methodology_id)
    assert quantification["methodology_id"] == example.methodology_id
    assert quantification["rejected"] is False
    assert [f["code"] for f in quantification["qa_findings"] if f["severity"] == "reject"] == []
    assert tuple(v["vintage_year"] for v in quantification["vintages"]) == example.vintage_years
    for figure in example.figures:
        assert figure_value(quantification, figure) == figure.value, figure
        assert figure.stated in text, f"{example.methodology_id}.md no longer states {figure.stated!r}"
    total_net = sum(v["net_reduction_kg"] for v in quantification["vintages"])
    assert quantification["totals"]["net_reduction_kg"] == total_net


@pytest.mark.parametrize("methodology_id", IDS)
def test_the_run_it_command_prints_the_lines_the_page_shows(
    methodology_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = run_it_section(methodology_id)
    [command] = fenced_block(section, "console")
    files = f"docs/methodologies/examples/{methodology_id}"
    arguments = f"--data {files}/data.csv --params {files}/params.json"
    assert command == f"$ cir methodology quantify {methodology_id} {arguments}"
    # The page's command is run as written, from the repository root it says to run it from.
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, shlex.split(command)[2:])
    assert result.exit_code == 0, result.stderr
    printed = result.stdout.splitlines()
    for line in fenced_block(section, "text"):
        assert line in printed, f"{methodology_id}.md shows a line the command does not print: {line!r}"


def test_the_shipped_files_are_the_inputs_the_unit_tests_use() -> None:
    """Same rows and parameters (by input fingerprint) as the builders in the unit tests."""
    expected = {
        "CIR-PV-DG": PV.quantify(worked_example_data(), WORKED_EXAMPLE_PARAMS),
        "CIR-EV-CHG": EV.quantify(
            pd.DataFrame(
                [("C1", "s1", "2023-05-01T08:00:00+08:00", "2023-05-01T18:00:00+08:00", 1000.0)],
                columns=["charger_id", "session_id", "start", "end", "energy_kwh"],
            ),
            {"region": "CN-JS", "charger_rated_kw": "120"},
        ),
        "CIR-LIGHT": LIGHT.quantify(nights(250, 10.0), light_params(grid_factor_pin=EAST_2012_PIN)),
        "CIR-WET-SINK": WETLAND.quantify(pd.DataFrame(worked_example_rows()), {}),
    }
    assert sorted(expected) == sorted(IDS)
    for methodology_id, quantification in expected.items():
        shipped = quantify_json(methodology_id)
        assert shipped["input_fingerprint"] == quantification.input_fingerprint, methodology_id
        assert shipped == orjson.loads(quantification.to_json()), methodology_id
