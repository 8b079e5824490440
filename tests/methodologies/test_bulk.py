"""Bulk quantification on Dask (`cir methodology quantify-bulk`): the same figures as each project alone.

Most tests share in-process LocalClusters (one of 1 worker, one of 2) to keep start-up cheap; the
CLI's own default path, worker processes included, runs once in `test_cli_writes_the_result_…`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import rfc8785
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.cli_methodology import EXIT_REJECTED, methodology_app
from api.client import RegistryClient
from methodologies.bulk import (
    ASSETS_FILE,
    MANIFEST_FILE,
    PROJECTS_FILE,
    BulkInputError,
    BulkResult,
    extract_project,
    quantify_bulk,
    read_params_table,
    write_bulk_result,
)
from methodologies.ev_charging import METHODOLOGY as EV
from methodologies.plugin import Methodology
from methodologies.pv_dg import METHODOLOGY as PV
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.settings import Settings
from tests.live_server import live_server
from tests.methodologies.methodology_builders import daytime_pv, pv_params
from tests.verification_world import register_pv_project
from tests.world import make_world

runner = CliRunner()

# Three PV projects over New Year (two vintages), one with per-meter ratings.
PV_PROJECTS: dict[str, tuple[dict[str, Any], dict[str, float]]] = {
    "prj_a": (pv_params(), {"A1": 40.0, "A2": 45.0, "A3": 50.0}),
    "prj_b": (pv_params(region="CN-SH", capacity_kwp="200", inverter_ac_kw="150"), {"B1": 30.0, "B2": 35.5}),
    "prj_c": (
        pv_params(meter_ratings={"C1": {"capacity_kwp": "60", "inverter_ac_kw": "55"}}, meter_accuracy_class="0.5S",
                  calibration_due_date="2023-12-31"),
        {"C1": 20.25},
    ),
}


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[int, LocalCluster]]:
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0",
                     silence_logs=logging.ERROR) as one,
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                     silence_logs=logging.ERROR) as two,
    ):
        yield {1: one, 2: two}


@pytest.fixture(scope="module")
def clients(clusters: dict[int, LocalCluster]) -> Iterator[dict[int, Client]]:
    with Client(clusters[1], set_as_default=False) as one, Client(clusters[2], set_as_default=False) as two:
        yield {1: one, 2: two}


def pv_data(projects: dict[str, tuple[dict[str, Any], dict[str, float]]] = PV_PROJECTS, days: int = 4,
            first_day: str = "2023-12-30") -> pd.DataFrame:
    return pd.concat(
        [daytime_pv(days=days, first_day=first_day, kwh=kwh).assign(meter_id=meter)
         for _, meters in projects.values() for meter, kwh in meters.items()],
        ignore_index=True,
    )


def ev_data() -> pd.DataFrame:
    rows = []
    for charger, kwh in (("C1", 30.0), ("C2", 42.5), ("C3", 120.0)):
        for day, when in enumerate(("2023-05-01", "2023-11-20", "2024-01-03", "2024-02-14")):
            rows.append((charger, f"{charger}-s{day}", f"{when}T08:00:00+08:00", f"{when}T10:00:00+08:00",
                         kwh + day))
    return pd.DataFrame(rows, columns=["charger_id", "session_id", "start", "end", "energy_kwh"])


EV_PROJECTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "prj_fleet": ({"region": "CN-JS", "charger_rated_kw": "60"}, ["C1", "C2"]),
    "prj_depot": ({"region": "CN-SH", "charger_rated_kw": "120", "vehicle_class": "bus"}, ["C3"]),
}


def write_data(directory: Path, data: pd.DataFrame, timestamp_columns: tuple[str, ...]) -> Path:
    """Two files that each hold part of every project (the shuffle has work to do), one in a subdirectory,
    with time-zone-aware timestamps as a metering export would have them."""
    directory.mkdir(parents=True)
    (directory / "2024").mkdir()
    typed = data.assign(**{name: pd.to_datetime(data[name], format="ISO8601") for name in timestamp_columns})
    typed.iloc[::2].to_parquet(directory / "part-0.parquet", index=False)
    typed.iloc[1::2].to_parquet(directory / "2024" / "part-1.parquet", index=False)
    return directory


def write_params_table(path: Path, asset_column: str, rows: list[tuple[str, str, dict[str, Any] | str]]) -> Path:
    frame = pd.DataFrame(
        [{"project": project, asset_column: asset, "params": p if isinstance(p, str) else json.dumps(p)}
         for project, asset, p in rows]
    )
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def pv_table_rows(projects: dict[str, tuple[dict[str, Any], dict[str, float]]] = PV_PROJECTS
                  ) -> list[tuple[str, str, dict[str, Any] | str]]:
    return [(project, meter, params) for project, (params, meters) in projects.items() for meter in meters]


def pv_inputs(tmp_path: Path) -> tuple[pd.DataFrame, Path, Path]:
    data = pv_data()
    data_dir = write_data(tmp_path / "data", data, ("timestamp",))
    return data, data_dir, write_params_table(tmp_path / "params.csv", "meter_id", pv_table_rows())


def assert_each_project_as_alone(methodology: Methodology[Any], data: pd.DataFrame,
                                 projects: dict[str, tuple[dict[str, Any], list[str]]], result: BulkResult) -> None:
    column = methodology.asset_column
    by_project = {record["project"]: record for record in result.projects.to_pylist()}
    assert sorted(by_project) == sorted(projects)
    asset_rows = result.assets.to_pylist()
    for project, (params, assets) in projects.items():
        alone = methodology.quantify(data[data[column].isin(assets)], params)
        record = by_project[project]
        assert record["quantification_json"] == alone.to_json().decode()
        assert (record["net_reduction_kg"], record["baseline_kg"], record["rejected"]) == (
            alone.totals.net_reduction_kg, alone.totals.baseline_kg, alone.rejected)
        assert (record["rows"], record["assets"]) == (int(data[column].isin(assets).sum()), len(assets))
        assert json.loads(record["params_json"]) == params
        for asset in assets:
            asset_alone = methodology.quantify(data[data[column] == asset], params)
            mine = [row for row in asset_rows if row["asset"] == asset]
            assert {row["project"] for row in mine} == {project}
            assert [(row["vintage_year"], row["net_reduction_kg"], row["baseline_kg"], row["project_kg"],
                     row["credited_energy_wh"], row["input_fingerprint"]) for row in mine] == [
                (v.vintage_year, v.net_reduction_kg, v.baseline_kg, v.project_kg, v.credited_energy_wh,
                 asset_alone.input_fingerprint) for v in asset_alone.vintages]


@pytest.mark.parametrize("workers", [1, 2])
def test_pv_bulk_equals_each_project_quantified_alone(tmp_path: Path, clients: dict[int, Client],
                                                      workers: int) -> None:
    data, data_dir, params_path = pv_inputs(tmp_path)
    result = quantify_bulk(PV, data_dir, read_params_table(params_path, PV), clients[workers],
                           rows_per_partition=50)
    projects = {project: (params, list(meters)) for project, (params, meters) in PV_PROJECTS.items()}
    assert_each_project_as_alone(PV, data, projects, result)
    assert {row["vintage_year"] for row in result.assets.to_pylist()} == {2023, 2024}
    manifest = result.manifest
    assert (manifest["rows"], manifest["assets"], manifest["projects"], manifest["workers"]) == (
        len(data), 6, 3, workers)
    assert manifest["net_reduction_kg"] == sum(r["net_reduction_kg"] for r in result.projects.to_pylist()) > 0
    # The project's total is the plugin run on the project, not the sum of its meters' rounded figures.
    a_meters = sum(r["baseline_kg"] for r in result.assets.to_pylist() if r["project"] == "prj_a")
    a_total = next(r["baseline_kg"] for r in result.projects.to_pylist() if r["project"] == "prj_a")
    assert a_meters <= a_total


def test_dictionary_encoded_files_of_many_meters(tmp_path: Path, clients: dict[int, Client]) -> None:
    """Metering exports write meter ids as a Parquet dictionary, one per file: 2 × 100 meters here, so
    the files' dictionaries together outgrow int8 codes (a shuffle of categories would fail)."""
    meters = [f"M{m:03d}" for m in range(200)]
    data = pd.concat([daytime_pv(days=1, kwh=20.0 + m % 7).assign(meter_id=meter) for m, meter in enumerate(meters)],
                     ignore_index=True)
    data["timestamp"] = pd.to_datetime(data["timestamp"], format="ISO8601")
    (tmp_path / "data").mkdir()
    for half in (0, 1):
        rows = data[data["meter_id"].isin(meters[half * 100:(half + 1) * 100])]
        rows.astype({"meter_id": "category"}).to_parquet(tmp_path / "data" / f"part-{half}.parquet", index=False)
    assert pq.read_schema(tmp_path / "data" / "part-0.parquet").field("meter_id").type.index_type.bit_width == 8
    projects = {f"prj_{p}": (pv_params(), meters[p::4]) for p in range(4)}
    params_path = write_params_table(tmp_path / "params.csv", "meter_id", [
        (project, meter, params) for project, (params, mine) in projects.items() for meter in mine])
    result = quantify_bulk(PV, tmp_path / "data", read_params_table(params_path, PV), clients[2],
                           rows_per_partition=300)
    assert_each_project_as_alone(PV, data, projects, result)


def test_ev_bulk_equals_each_project_quantified_alone(tmp_path: Path, clients: dict[int, Client]) -> None:
    data = ev_data()
    data_dir = write_data(tmp_path / "data", data, ("start", "end"))
    params_path = write_params_table(tmp_path / "params.parquet", "charger_id", [
        (project, charger, params) for project, (params, chargers) in EV_PROJECTS.items() for charger in chargers])
    result = quantify_bulk(EV, data_dir, read_params_table(params_path, EV), clients[2])
    assert_each_project_as_alone(EV, data, EV_PROJECTS, result)
    assert {row["vintage_year"] for row in result.assets.to_pylist()} == {2023, 2024}


def bulk(*args: str) -> Any:
    return runner.invoke(methodology_app, ["quantify-bulk", *args])


def test_cli_writes_the_result_with_worker_processes(tmp_path: Path) -> None:
    data, data_dir, params_path = pv_inputs(tmp_path)
    out = tmp_path / "out"
    result = bulk("CIR-PV-DG", "--data", str(data_dir), "--params", str(params_path), "--out", str(out),
                  "--workers", "1")
    assert result.exit_code == 0, result.output
    assert f"{len(data):,} rows, 6 meters, 3 projects" in result.stdout
    assert sorted(path.name for path in out.iterdir()) == sorted([ASSETS_FILE, MANIFEST_FILE, PROJECTS_FILE])
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert (manifest["methodology_id"], manifest["workers"], manifest["data_dir"]) == (
        "CIR-PV-DG", 1, str(data_dir.resolve()))
    projects = pq.read_table(out / PROJECTS_FILE).to_pylist()
    alone = PV.quantify(data[data["meter_id"].isin(["B1", "B2"])], PV_PROJECTS["prj_b"][0])
    assert next(p for p in projects if p["project"] == "prj_b")["quantification_json"] == alone.to_json().decode()
    assert pq.read_table(out / ASSETS_FILE).num_rows == 12  # 6 meters × 2 vintages
    assert f"net {manifest['net_reduction_kg']:,} kg CO2e" in result.stdout


def test_cli_exits_3_when_a_project_is_rejected_by_qa(tmp_path: Path, clusters: dict[int, LocalCluster]) -> None:
    # 60 days of 6 × 500 kWh a day from 1 kWp: far above 2,000 kWh/kWp, so prj_big is rejected.
    implausible = {"prj_big": (pv_params(capacity_kwp="1", inverter_ac_kw="1000"), {"X1": 500.0}),
                   "prj_ok": (pv_params(), {"Y1": 40.0})}
    data = pv_data(implausible, days=60, first_day="2023-05-01")
    data_dir = write_data(tmp_path / "data", data, ("timestamp",))
    params_path = write_params_table(tmp_path / "params.csv", "meter_id", pv_table_rows(implausible))
    result = bulk("CIR-PV-DG", "--data", str(data_dir), "--params", str(params_path), "--out",
                  str(tmp_path / "out"), "--scheduler", clusters[2].scheduler_address)
    assert result.exit_code == EXIT_REJECTED, result.output
    assert "1 project(s) rejected by QA: prj_big" in result.stderr
    projects = {p["project"]: p for p in pq.read_table(tmp_path / "out" / PROJECTS_FILE).to_pylist()}
    assert projects["prj_big"]["rejected"] and projects["prj_big"]["net_reduction_kg"] == 0
    assert not projects["prj_ok"]["rejected"] and projects["prj_ok"]["net_reduction_kg"] > 0


REFUSALS = {
    "unknown meters": (
        "unknown",
        "2 meters in the data are in no project of the params table: A2, C1",
    ),
    "meter under two projects": ("shared", "1 meter(s) are listed under two projects, e.g. A1 in prj_a and prj_b"),
    "params the plugin refuses": (
        "bad_params", "project prj_b: CIR-PV-DG parameter 'calibration_due_date': Field required"),
    "params differ within a project": (
        "mixed_params", "project prj_a: its rows in the params table carry different params"),
    "params table without params column": ("no_params_column", "params table params.csv: missing column(s) params"),
    "data without energy": ("no_energy_column", "lacks required column(s) energy_kwh"),
    "data the plugin refuses": (
        "unrated_meter", "project prj_c: column 'meter_id': meter 'C1' has no entry in meter_ratings"),
    "unknown methodology": ("unknown_methodology", "methodology CIR-NOPE is not installed"),
    "empty data directory": ("empty_data", ": no Parquet files"),
    "output not empty": ("out_not_empty", ": exists and is not an empty directory; not overwriting"),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_refusals_write_nothing(tmp_path: Path, clusters: dict[int, LocalCluster], case: str) -> None:
    kind, expected = REFUSALS[case]
    _, data_dir, params_path = pv_inputs(tmp_path)
    rows = pv_table_rows()
    methodology_id = "CIR-PV-DG"
    out = tmp_path / "out"
    if kind == "unknown":
        rows = [row for row in rows if row[1] not in ("A2", "C1")]
    elif kind == "shared":
        rows.append(("prj_b", "A1", PV_PROJECTS["prj_b"][0]))
    elif kind == "bad_params":
        params = dict(PV_PROJECTS["prj_b"][0])
        del params["calibration_due_date"]
        rows = [(p, m, params if p == "prj_b" else q) for p, m, q in rows]
    elif kind == "mixed_params":
        rows[1] = ("prj_a", "A2", pv_params(region="CN-ZJ"))
    elif kind == "no_params_column":
        pd.DataFrame([(p, m) for p, m, _ in rows], columns=["project", "meter_id"]).to_csv(params_path, index=False)
    elif kind == "no_energy_column":
        for path in data_dir.rglob("*.parquet"):
            pd.read_parquet(path).drop(columns="energy_kwh").to_parquet(path, index=False)
    elif kind == "unrated_meter":
        rows = [(p, m, pv_params(meter_ratings={"Z9": {"capacity_kwp": "1", "inverter_ac_kw": "1"}}) if p == "prj_c"
                 else q) for p, m, q in rows]
    elif kind == "unknown_methodology":
        methodology_id = "CIR-NOPE"
    elif kind == "empty_data":
        data_dir = tmp_path / "empty"
        (data_dir / "sub").mkdir(parents=True)
    elif kind == "out_not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    if kind != "no_params_column":
        write_params_table(params_path, "meter_id", rows)
    result = bulk(methodology_id, "--data", str(data_dir), "--params", str(params_path), "--out", str(out),
                  "--scheduler", clusters[2].scheduler_address)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    if kind == "out_not_empty":
        assert [path.name for path in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".out")]


def test_extract_refuses_an_unknown_project_and_changed_data(tmp_path: Path, clients: dict[int, Client]) -> None:
    _, data_dir, params_path = pv_inputs(tmp_path)
    write_bulk_result(quantify_bulk(PV, data_dir, read_params_table(params_path, PV), clients[1]), tmp_path / "out")
    refused = runner.invoke(methodology_app, ["bulk-extract", str(tmp_path / "out"), "--project", "prj_zz",
                                              "--out", str(tmp_path / "zz.parquet")])
    assert refused.exit_code == 1 and "project prj_zz is not in the bulk result" in refused.stderr
    first = data_dir / "part-0.parquet"
    pd.read_parquet(first).assign(energy_kwh=lambda f: f["energy_kwh"] + 1).to_parquet(first, index=False)
    with pytest.raises(BulkInputError, match="changed since the bulk run"):
        extract_project(tmp_path / "out", "prj_a", tmp_path / "a.parquet")
    assert not (tmp_path / "a.parquet").exists() and not (tmp_path / "a.params.json").exists()


def test_a_report_made_from_a_bulk_result_shows_the_bulk_figures(
    db: Database, signer: LogSigner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clients: dict[int, Client]
) -> None:
    """A registered project and a neighbour quantified together; the registry, quantifying the extract
    itself, arrives at the bulk's quantification byte for byte. On both databases."""
    world = make_world(db)
    project = register_pv_project(db, world, ["R1", "R2"], name="Bulk rooftops")
    projects = {project: (pv_params(), {"R1": 40.0, "R2": 44.5}), "prj_neighbour": (pv_params(), {"N1": 30.0})}
    data = pv_data(projects, days=3, first_day="2023-06-01")
    data_dir = write_data(tmp_path / "data", data, ("timestamp",))
    params_path = write_params_table(tmp_path / "params.csv", "meter_id", pv_table_rows(projects))
    write_bulk_result(quantify_bulk(PV, data_dir, read_params_table(params_path, PV), clients[2]), tmp_path / "out")

    extracted = runner.invoke(methodology_app, ["bulk-extract", str(tmp_path / "out"), "--project", project,
                                                "--out", str(tmp_path / "mine.parquet")])
    assert extracted.exit_code == 0, extracted.output
    assert f"{int(data['meter_id'].isin(['R1', 'R2']).sum())} rows" in extracted.stdout
    bulk_json = next(p["quantification_json"] for p in pq.read_table(tmp_path / "out" / PROJECTS_FILE).to_pylist()
                     if p["project"] == project)
    settings = Settings(database_url=db.url, run_sequencer=False, blob_dir=tmp_path / "blobs")
    with live_server(db, signer, settings) as url:
        monkeypatch.setenv("CIR_URL", url)
        created = runner.invoke(cli_app, [
            "report", "create", project, "--data", str(tmp_path / "mine.parquet"), "--params",
            str(tmp_path / "mine.params.json"), "--period-start", "2023-06-01", "--period-end", "2023-06-30",
            "--account", world.owner_account], env={"CIR_API_KEY": world.owner_key})
        assert created.exit_code == 0, created.output
        with RegistryClient(url, world.owner_key) as client:
            report = client.report(created.output.split()[0])
    assert report["quantification"] == json.loads(bulk_json)
    assert rfc8785.dumps(report["quantification"]).decode() == bulk_json
    assert report["net_reduction_kg"] == json.loads(bulk_json)["totals"]["net_reduction_kg"] > 0
