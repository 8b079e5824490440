"""The emission-inventory calculation: the worked examples of docs/inventory.md, units,
rounding, the file formats and every refusal (each naming its line)."""

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from netzero.calculation import (
    COLUMNS,
    UNITS,
    ActivityDataInvalid,
    GreenCertificate,
    InventoryResult,
    calculate_inventory,
    gec_key,
    load_inventory_factors,
    parse_activity_data,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "inventory.md").read_text(encoding="utf-8")
DEMO = ROOT / "demo" / "concrete_plant_2025.csv"
HEADER = ",".join(COLUMNS)


def row(
    source_id: str,
    category: str,
    amount: str,
    unit: str,
    factor_id: str = "",
    *,
    factor: tuple[str, str, str] = ("", "", ""),
    reference: str = "",
    generator_project: str = "",
) -> str:
    out = io.StringIO()
    cells = [
        source_id,
        category,
        f"{source_id} line",
        amount,
        unit,
        factor_id,
        *factor,
        reference,
        generator_project,
        "",
    ]
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def csv_file(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows, ""]).encode()


def calculate(
    content: bytes, *, region: str = "CN-JS", year: int = 2025, boundary: str = "I", filename: str = "a.csv"
) -> InventoryResult:
    return calculate_inventory(
        parse_activity_data(content, filename),
        region=region,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        boundary=boundary,
    )


def refusal(content: bytes, *, filename: str = "a.csv", boundary: str = "I") -> str:
    with pytest.raises(ActivityDataInvalid) as raised:
        calculate(content, filename=filename, boundary=boundary)
    return str(raised.value)


def example(number: int) -> tuple[str, bytes]:
    """The text of worked example `number` of the doc and the activity file it shows."""
    match = re.search(rf"^### {number}\. .*?(?=^### |\Z)", DOC, re.MULTILINE | re.DOTALL)
    assert match, f"docs/inventory.md has no worked example {number}"
    block = re.search(r"```csv\n(.*?)```", match.group(0), re.DOTALL)
    assert block, f"worked example {number} shows no activity file"
    return match.group(0), block.group(1).encode()


def assert_figures_in(text: str, *figures: int) -> None:
    for figure in figures:
        assert f"**{figure:,} kg**" in text, f"{figure:,} kg is not in the worked example"


# --- the worked examples -------------------------------------------------------------------


def test_worked_example_1_small_workshop() -> None:
    text, content = example(1)
    result = calculate(content, region="CN-JS", year=2025, boundary="I")
    kg = {line.source_id: line.kg for line in result.lines}
    assert kg == {"OVEN-GAS": 69_281, "GRID": 99_000}
    assert (result.scope1_kg, result.scope2_location_kg, result.scope2_market_kg) == (69_281, 99_000, 99_000)
    assert result.residual_kg == result.total_location_kg == 168_281
    assert result.renewable_share_bp == 0
    assert (result.grid_factor.factor_id, result.grid_factor.selection) == (
        "MEE-NBS-2023-EAST",
        "latest published year",
    )
    assert_figures_in(text, 69_281, 99_000, 168_281)


def test_worked_example_2_refrigerant_and_green_certificate() -> None:
    text, content = example(2)
    result = calculate(content, region="CN-ZJ", year=2023, boundary="II")
    kg = {line.source_id: (line.kg, line.market_kg, line.scope) for line in result.lines}
    assert kg == {
        "FORKLIFTS": (7_021, 7_021, 1),
        "CHILLER": (11_050, 11_050, 1),
        "GRID": (275_000, 209_000, 2),
        "HAULIER": (11_323, 11_323, 3),
    }
    assert (result.scope1_kg, result.scope3_kg) == (18_071, 11_323)
    assert (result.total_location_kg, result.total_market_kg, result.residual_kg) == (304_394, 238_394, 238_394)
    assert result.renewable_share_bp == 2_400
    assert result.green_certificates == [GreenCertificate("GEC-2023-ZJ-0201544", Decimal("120"), None)]
    assert result.grid_factor.selection == "published for the vintage year"
    assert_figures_in(text, 7_021, 11_050, 18_071, 275_000, 209_000, 11_323, 304_394, 238_394)


def test_worked_example_3_is_the_demo_concrete_plant() -> None:
    text, content = example(3)
    assert content == DEMO.read_bytes(), "the doc must show demo/concrete_plant_2025.csv as it is"
    result = calculate(content, region="CN-GD", year=2025, boundary="I", filename=DEMO.name)
    assert result.scope1_kg == 1_012_872
    assert (result.scope2_location_kg, result.scope2_market_kg) == (1_053_538, 811_018)
    assert result.total_location_kg == 2_066_410
    assert result.residual_kg == result.total_market_kg == 1_823_890  # the certified 1,823.89 tCO2e
    assert (result.electricity_kwh, result.green_electricity_kwh) == (Decimal(2_606_476), Decimal(600_000))
    assert result.renewable_share_bp == 2_301
    assert result.grid_factor.factor_id == "MEE-NBS-2023-SOUTH"
    assert [gec.gec_id for gec in result.green_certificates] == ["GEC-2025-GD-0004821", "GEC-2025-GD-0011357"]
    assert sum(result.by_category_kg.values()) == result.total_location_kg
    assert_figures_in(text, 844_151, 129_737, 5_819, 14_887, 18_278, 1_012_872, 1_053_538, 811_018, 1_823_890)


# --- the factor table ----------------------------------------------------------------------


def test_every_factor_has_a_source_and_the_table_one_version() -> None:
    table = load_inventory_factors()
    assert table.table_version == "2026.1"
    assert all(factor.source.strip() for factor in table.factors)
    diesel = table.get("diesel")
    assert diesel is not None and diesel.value is None  # a fuel's factor is computed, not stored
    assert str(diesel.per_activity_unit) == "235884187/75000000"  # 43.330 × 0.02020 × 0.98 × 44/12


def test_the_fuel_formula_spells_out_every_factor() -> None:
    result = calculate(csv_file(row("TRUCKS", "mobile_combustion", "280", "t", "DIESEL")))
    line = result.lines[0]
    assert line.formula.startswith("280 t × 43.330 GJ/t × 0.02020 tC/GJ × 98% × 44/12 = 880.634298… tCO2")
    assert line.formula.endswith("→ 880,635 kg (rounded up)")
    assert (line.factor_value, line.factor_unit) == ("3.145122493", "tCO2/t")
    assert "appendix table 2.1" in line.source


# --- units and rounding --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("1850", "kg", "DIESEL"), ("1.85", "t", "DIESEL")),
        (("32,000", "Nm3", "NATURAL_GAS"), ("3.2", "10^4 Nm3", "NATURAL_GAS")),
        (("32000", "m3", "NATURAL_GAS"), ("3.2", "万m3", "NATURAL_GAS")),
        (("3600", "MJ", "PURCHASED_HEAT"), ("3.6", "GJ", "PURCHASED_HEAT")),
        (("1", "MWh", "PURCHASED_HEAT"), ("3.6", "GJ", "PURCHASED_HEAT")),
    ],
)
def test_units_are_converted_exactly(first: tuple[str, str, str], second: tuple[str, str, str]) -> None:
    category = "purchased_heat" if first[2] == "PURCHASED_HEAT" else "stationary_combustion"
    one = calculate(csv_file(row("A", category, *first)))
    other = calculate(csv_file(row("A", category, *second)))
    assert one.lines[0].kg == other.lines[0].kg > 0


def test_electricity_in_mwh_is_kwh_times_1000() -> None:
    in_mwh = calculate(csv_file(row("GRID", "purchased_electricity", "180", "MWh")))
    assert in_mwh.electricity_kwh == Decimal(180_000)
    assert in_mwh.lines[0].kg == 99_000


def test_a_tenth_of_a_kg_is_rounded_up_to_one_and_totals_add_the_rounded_lines() -> None:
    stated = ("0.1", "kgCO2e/kg", "supplier's declaration 2025")
    result = calculate(
        csv_file(row("A", "process", "1", "kg", factor=stated), row("B", "process", "1", "kg", factor=stated))
    )
    assert [line.kg for line in result.lines] == [1, 1]
    assert result.scope1_kg == result.residual_kg == 2
    assert result.lines[0].formula == "1 kg × 0.1 kgCO2e/kg (stated in the file) = 0.1 kg → 1 kg (rounded up)"


def test_green_electricity_is_matched_to_the_electricity_lines_in_file_order() -> None:
    result = calculate(
        csv_file(
            row("GRID-1", "purchased_electricity", "100000", "kWh"),
            row("GRID-2", "purchased_electricity", "100000", "kWh"),
            row("GEC", "green_certificate", "150", "MWh", reference="GEC-2025-JS-1"),
            row("PPA", "green_power_contract", "10", "MWh", reference="PPA-7"),
        )
    )
    assert [(line.kg, line.market_kg) for line in result.lines] == [
        (55_000, 0),
        (55_000, 22_000),
    ]  # 160 MWh: 100 on the first, 60 on the second
    assert result.renewable_share_bp == 8_000
    assert [(c.contract_id, c.mwh) for c in result.green_power_contracts] == [("PPA-7", Decimal(10))]


def test_scope3_uses_fuel_rows_or_stated_factors_in_a_type_two_boundary() -> None:
    content = csv_file(
        row("HAULIER", "upstream_transport", "3.6", "t", "DIESEL"),
        row("FREIGHT", "downstream_transport", "1,000", "tkm", factor=("0.1", "kgCO2e/t·km", "carrier's report 2025")),
    )
    result = calculate(content, boundary="II")
    assert [line.kg for line in result.lines] == [11_323, 100]
    assert result.scope3_kg == 11_423
    assert [factor.factor_id for factor in result.factors_used] == ["DIESEL", "explicit:FREIGHT"]


def test_the_result_is_json_ready_without_floats() -> None:
    result = calculate(DEMO.read_bytes(), region="CN-GD", filename=DEMO.name)
    data = result.as_dict()

    def kinds(value: object) -> set[type]:
        if isinstance(value, dict):
            return {dict}.union(*(kinds(item) for item in value.values()))
        if isinstance(value, list):
            return {list}.union(*(kinds(item) for item in value))
        return {type(value)}

    assert kinds(data) <= {dict, list, str, int, type(None)}
    assert json.loads(json.dumps(data)) == data
    assert data["residual_kg"] == 1_823_890
    assert data["green_certificates"][0] == ["GEC-2025-GD-0004821", "400", None]


# --- file formats --------------------------------------------------------------------------


def test_the_first_sheet_of_an_xlsx_is_read(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(["OVEN-GAS", "stationary_combustion", "oven", 32000, "Nm3", "NATURAL_GAS"])
    sheet.append([])
    sheet.append(["GRID", "purchased_electricity", "grid", 180000.0, "kWh"])
    sheet.append(["AC", "fugitive", "top-up", 0.35, "kg", "HFC-32"])
    workbook.create_sheet("notes").append(["not read"])
    path = tmp_path / "workshop.xlsx"
    workbook.save(path)
    result = calculate(path.read_bytes(), filename=path.name)
    assert [(line.line_number, line.source_id, line.kg) for line in result.lines] == [
        (2, "OVEN-GAS", 69_281),
        (4, "GRID", 99_000),
        (5, "AC", 237),  # 0.35 × 677 = 236.95
    ]
    assert result.lines[2].amount == Decimal("0.35")


def test_a_gb18030_csv_from_excel_is_read() -> None:
    content = f"{HEADER}\nLPG,stationary_combustion,食堂液化石油气,4.8,吨,LPG,,,,,,\n".encode("gb18030")
    result = calculate(content)
    assert (result.lines[0].description, result.lines[0].unit, result.lines[0].kg) == ("食堂液化石油气", "t", 14_887)


def test_gec_ids_are_compared_after_nfkc_trimming_and_case_folding() -> None:
    assert gec_key(" ＧＥＣ－２０２５－ＧＤ－１ ") == gec_key("gec-2025-gd-1") == "gec-2025-gd-1"


# --- refusals ------------------------------------------------------------------------------


def test_an_empty_file_is_refused() -> None:
    assert "the file is empty" in refusal(b"")
    assert "no activity lines under it (line 1)" in refusal(csv_file())


def test_a_file_that_is_not_csv_or_xlsx_is_refused() -> None:
    assert ".csv or .xlsx" in refusal(b"x", filename="inventory.txt")
    assert "not a readable XLSX" in refusal(b"not a zip", filename="inventory.xlsx")


def test_missing_and_unknown_columns_are_refused() -> None:
    message = refusal(b"source_id,category,unit,remarks\nA,process,t,x\n")
    assert "line 1: missing column(s) amount" in message
    assert "line 1: unknown column 'remarks'" in message


ELECTRICITY_WITH_FACTOR = row("GRID", "purchased_electricity", "1000", "kWh", factor=("0.5", "kgCO2/kWh", "x"))


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [row("A", "stationary_combustion", "1", "t", "DIESL")],
            "line 2, column factor_id: unknown factor_id 'DIESL'; known ids: RAW_COAL, DIESEL,",
        ),
        ([row("A", "process", "-3", "t", "LIMESTONE_CALCINATION")], "line 2, column amount: negative amount -3"),
        ([row("A", "process", "abc", "t", "LIMESTONE_CALCINATION")], "line 2, column amount: 'abc' is not a decimal"),
        ([row("A", "process", "NaN", "t", "LIMESTONE_CALCINATION")], "line 2, column amount: 'NaN' is not a decimal"),
        ([row("A", "process", "", "t", "LIMESTONE_CALCINATION")], "line 2, column amount: give the quantity"),
        ([row("A", "process", "1", "gallon", "LIMESTONE_CALCINATION")], "line 2, column unit: unknown unit 'gallon'"),
        ([row("A", "stationary_combustion", "1", "kWh", "DIESEL")], "line 2, column unit: DIESEL is per t (mass)"),
        ([row("A", "purchased_heat", "5", "t", "PURCHASED_HEAT")], "line 2, column unit: PURCHASED_HEAT is per GJ"),
        ([row("A", "compost", "1", "t", "DIESEL")], "line 2, column category: unknown category 'compost'"),
        ([row("A", "stationary_combustion", "1", "kg", "HFC-32")], "line 2, column factor_id: HFC-32 is a fugitive"),
        ([row("A", "process", "1", "t")], "line 2, column factor_id: give a factor_id"),
        (
            [row("A", "process", "1", "t", "LIMESTONE_CALCINATION", factor=("0.4", "tCO2/t", "lab"))],
            "line 2, column factor_id: give either factor_id or factor_value",
        ),
        ([row("A", "process", "1", "t", factor=("0.4", "tCO2/t", ""))], "line 2, column factor_source: a factor"),
        ([row("A", "process", "1", "t", factor=("0.4", "tCO2/furlong", "lab"))], "line 2, column factor_unit:"),
        ([row("A", "process", "1", "t", factor=("0.4", "kgCO2e/kWh", "lab"))], "line 2, column unit: the factor is"),
        ([ELECTRICITY_WITH_FACTOR], "line 2, column factor_value: purchased electricity takes no factor"),
        ([row("GRID", "purchased_electricity", "1", "kWh", "DIESEL")], "line 2, column factor_id: purchased"),
        ([row("GRID", "purchased_electricity", "1", "GJ")], "line 2, column unit: electricity is counted in kWh"),
        ([row("GEC", "green_certificate", "1", "MWh")], "line 2, column reference: a green_certificate line needs"),
        (
            [row("GEC", "green_certificate", "1", "MWh", reference="GEC-1", generator_project="PV farm")],
            "line 2, column generator_project: 'PV farm' is not a project id",
        ),
        (
            [row("A", "process", "1", "t", "LIMESTONE_CALCINATION", generator_project="prj_abc")],
            "line 2, column generator_project: only a green_certificate line",
        ),
        (
            [
                row("A", "process", "1", "t", "LIMESTONE_CALCINATION"),
                row("A", "process", "2", "t", "LIMESTONE_CALCINATION"),
            ],
            "line 3, column source_id: source_id 'A' is already on line 2",
        ),
        (
            [
                row("GRID", "purchased_electricity", "5000", "kWh"),
                row("GEC-1", "green_certificate", "1", "MWh", reference="GEC-2025-JS-7"),
                row("GEC-2", "green_certificate", "1", "MWh", reference=" gec-2025-js-7"),
            ],
            "line 4, column reference: certificate 'gec-2025-js-7' is already on line 3",
        ),
        (
            [
                row("GRID", "purchased_electricity", "5000", "kWh"),
                row("GEC-1", "green_certificate", "4", "MWh", reference="GEC-1"),
                row("PPA", "green_power_contract", "2", "MWh", reference="PPA-1"),
            ],
            "line(s) 3, 4: green electricity 6,000 kWh is more than the 5,000 kWh of purchased electricity",
        ),
        (
            [row("WASTE", "waste", "2", "t", factor=("0.5", "tCO2e/t", "x"))],
            "line 2, column category: 'waste' is scope 3",
        ),
    ],
)
def test_each_refusal_names_the_line_and_column(rows: list[str], expected: str) -> None:
    assert expected in refusal(csv_file(*rows))


def test_every_problem_is_reported_at_once() -> None:
    # What the file alone shows (reading), then what needs the factor table and the boundary.
    message = refusal(csv_file(row("A", "process", "-1", "t", "X"), row("B", "process", "1", "furlong", "X")))
    assert message.splitlines() == [
        "line 2, column amount: negative amount -1; amounts are quantities used, 0 or more",
        f"line 3, column unit: unknown unit 'furlong'; use one of {', '.join(UNITS)}",
    ]
    message = refusal(csv_file(row("A", "stationary_combustion", "1", "t", "DIESL"), row("B", "waste", "1", "t", "X")))
    assert [line.split(":")[0] for line in message.splitlines()] == [
        "line 2, column factor_id",
        "line 3, column category",
    ]


def test_type_one_refuses_scope_three_and_type_two_counts_it() -> None:
    content = csv_file(row("FLIGHTS", "business_travel", "0.5", "t", "DIESEL"))
    assert "line 2, column category: 'business_travel' is scope 3, outside a type I boundary" in refusal(content)
    assert calculate(content, boundary="II").scope3_kg == 1_573  # 0.5 × 3.145122493… t


def test_facility_parameters_are_checked() -> None:
    lines = parse_activity_data(csv_file(row("GRID", "purchased_electricity", "1", "kWh")), "a.csv")
    with pytest.raises(ActivityDataInvalid, match="boundary 'III'"):
        calculate_inventory(
            lines, region="CN-JS", period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), boundary="III"
        )
    with pytest.raises(ActivityDataInvalid, match="before it starts"):
        calculate_inventory(
            lines, region="CN-JS", period_start=date(2025, 1, 1), period_end=date(2024, 12, 31), boundary="I"
        )
    with pytest.raises(ActivityDataInvalid, match="facility region: region 'Jiangsu'"):
        calculate_inventory(
            lines, region="Jiangsu", period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), boundary="I"
        )
