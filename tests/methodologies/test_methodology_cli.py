import json
from pathlib import Path

import orjson
import pandas as pd
from typer.testing import CliRunner

from api.cli_methodology import EXIT_REJECTED, methodology_app
from methodologies.loading import load_table
from methodologies.pv_dg import METHODOLOGY as PV
from tests.methodologies.methodology_builders import daytime_pv, pv_params

runner = CliRunner()


def write_inputs(tmp_path: Path, data: pd.DataFrame, params: dict[str, object]) -> tuple[Path, Path]:
    data_path, params_path = tmp_path / "data.csv", tmp_path / "params.json"
    data.to_csv(data_path, index=False)
    params_path.write_text(json.dumps(params))
    return data_path, params_path


def test_list_shows_the_installed_methodologies() -> None:
    result = runner.invoke(methodology_app, ["list"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "CIR-EV-CHG\t1.0\tElectric vehicle charging",
        "CIR-LIGHT\t1.0\tLighting retrofit",
        "CIR-PV-DG\t1.0\tDistributed photovoltaic generation",
        "CIR-WET-SINK\t1.0\tCoastal wetland carbon sink (stock difference)",
    ]


def test_show_prints_the_parameter_schema_and_columns() -> None:
    result = runner.invoke(methodology_app, ["show", "CIR-PV-DG"])
    assert result.exit_code == 0
    shown = orjson.loads(result.stdout)
    assert (shown["id"], shown["version"]) == ("CIR-PV-DG", "1.0")
    assert [c["name"] for c in shown["input_columns"]] == [
        "meter_id",
        "timestamp",
        "energy_kwh",
        "import_kwh",
    ]
    assert "calibration_due_date" in shown["params_schema"]["required"]


def test_quantify_prints_a_summary(tmp_path: Path) -> None:
    data_path, params_path = write_inputs(tmp_path, daytime_pv(days=1), pv_params())
    result = runner.invoke(
        methodology_app, ["quantify", "CIR-PV-DG", "--data", str(data_path), "--params", str(params_path)]
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "vintage 2023  2023-06-01T09:00:00+08:00 – 2023-06-01T15:00:00+08:00"
    assert "net 166 kg CO2e" in lines[2]
    assert lines[4].startswith(
        "factor MEE-NBS-2023-EAST = 0.5500 kgCO2/kWh (published for the vintage year; 2023)"
    )


def test_quantify_json_is_the_canonical_bytes(tmp_path: Path) -> None:
    data_path, params_path = write_inputs(tmp_path, daytime_pv(days=1), pv_params())
    result = runner.invoke(
        methodology_app,
        ["quantify", "CIR-PV-DG", "--data", str(data_path), "--params", str(params_path), "--json"],
    )
    assert result.exit_code == 0
    expected = PV.quantify(load_table(data_path, PV.input_schema), pv_params()).to_json()
    assert result.stdout_bytes == expected + b"\n"


def test_bad_data_exits_non_zero_with_one_line_on_stderr(tmp_path: Path) -> None:
    data = daytime_pv(days=1).astype({"energy_kwh": object})
    data.loc[2, "energy_kwh"] = "n/a"
    data_path, params_path = write_inputs(tmp_path, data, pv_params())
    result = runner.invoke(
        methodology_app, ["quantify", "CIR-PV-DG", "--data", str(data_path), "--params", str(params_path)]
    )
    assert result.exit_code == 1
    assert result.stderr == "error: column 'energy_kwh', row 3: 'n/a' is not a number\n"
    assert result.stdout == ""


def test_bad_params_and_unknown_methodology_exit_non_zero(tmp_path: Path) -> None:
    data_path, params_path = write_inputs(tmp_path, daytime_pv(days=1), {"capacity_kwp": 5})
    args = ["--data", str(data_path), "--params", str(params_path)]
    missing = runner.invoke(methodology_app, ["quantify", "CIR-PV-DG", *args])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: CIR-PV-DG parameter 'region': Field required")
    assert len(missing.stderr.splitlines()) == 1
    params_path.write_text("{not json")
    broken = runner.invoke(methodology_app, ["quantify", "CIR-PV-DG", *args])
    assert broken.exit_code == 1 and "not valid JSON (line 1, column 2" in broken.stderr
    unknown = runner.invoke(methodology_app, ["quantify", "CIR-NOPE", *args])
    assert unknown.exit_code == 1 and unknown.stderr.startswith(
        "error: methodology CIR-NOPE is not installed"
    )


def test_rejected_quantification_exits_3_and_says_so(tmp_path: Path) -> None:
    data = daytime_pv(days=1)
    data_path, params_path = write_inputs(tmp_path, pd.concat([data, data.iloc[[0]]]), pv_params())
    result = runner.invoke(
        methodology_app, ["quantify", "CIR-PV-DG", "--data", str(data_path), "--params", str(params_path)]
    )
    assert result.exit_code == EXIT_REJECTED
    assert "REJECTED by QA" in result.stdout
    assert result.stderr == "quantification rejected: DUPLICATE_TIMESTAMP\n"
