"""`cir methodology …`: list, inspect and run methodology plugins from the command line.

Thin by design: it parses arguments, calls `methodologies`, and prints. Every methodology
error becomes one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from methodologies.errors import MethodologyError

if TYPE_CHECKING:  # pandas and the plugins load only when a command runs
    from methodologies.quantification import Quantification, Quantities

# A quantification that ran but was rejected by QA is not a usage error (exit 1), but a
# script must still notice it.
EXIT_REJECTED = 3

methodology_app = typer.Typer(
    help="Methodology plugins: list them, show one, quantify monitoring data.", no_args_is_help=True
)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@methodology_app.command("list")
def list_command() -> None:
    """List installed methodologies (id, version, title)."""
    from methodologies.registry import list_methodologies

    try:
        methodologies = list_methodologies()
    except MethodologyError as error:
        _fail(str(error))
    for methodology in methodologies:
        typer.echo(f"{methodology.id}\t{methodology.version}\t{methodology.title}")


@methodology_app.command("show")
def show_command(
    methodology_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[str | None, typer.Option(help="Version; default the newest installed")] = None,
) -> None:
    """Show a methodology: applicability, parameter schema and input columns, as JSON."""
    import orjson

    from methodologies.registry import get_methodology

    try:
        description = get_methodology(methodology_id, version).describe()
    except MethodologyError as error:
        _fail(str(error))
    typer.echo(orjson.dumps(description, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def _read_params(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"), parse_float=str)
    except OSError as error:
        _fail(f"{path}: cannot read parameters ({error.strerror})")
    except json.JSONDecodeError as error:
        _fail(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})")
    if not isinstance(loaded, dict):
        _fail(f"{path}: parameters must be a JSON object")
    return loaded


def _quantities_line(quantities: Quantities) -> str:
    deductions = quantities.deductions
    parts = [
        f"baseline {quantities.baseline_kg:,} kg",
        f"removals {quantities.removals_kg:,} kg",
        f"project {quantities.project_kg:,} kg",
        f"leakage {quantities.leakage_kg:,} kg",
        f"uncertainty −{deductions.uncertainty_kg:,}",
        f"late calibration −{deductions.late_calibration_kg:,}",
        f"green certificates −{deductions.green_certificate_kg:,}",
        f"buffer {deductions.buffer_kg:,} kg",
        f"net {quantities.net_reduction_kg:,} kg CO2e",
    ]
    return " | ".join(parts)


def _summary(quantification: Quantification) -> str:
    header = f"{quantification.methodology_id} {quantification.methodology_version}"
    lines = [f"{header}  input {quantification.input_fingerprint}"]
    if quantification.rejected:
        lines.append("REJECTED by QA: all quantities are zero (see the reject findings below)")
    for vintage in quantification.vintages:
        lines.append(f"vintage {vintage.vintage_year}  {vintage.period_start} – {vintage.period_end}")
        lines.append(f"  {_quantities_line(vintage)}")
    lines.append(f"total  {_quantities_line(quantification.totals)}")
    for factor in quantification.factors:
        years = ", ".join(str(year) for year in factor.vintage_years)
        lines.append(
            f"factor {factor.factor_id} = {factor.value} {factor.unit} ({factor.selection}"
            f"{'; ' + years if years else ''}) — {factor.source}"
        )
    for finding in quantification.qa_findings:
        lines.append(f"QA {finding.severity.value:<6} {finding.code} ×{finding.count}: {finding.message}")
    return "\n".join(lines)


@methodology_app.command("quantify")
def quantify_command(
    methodology_id: Annotated[str, typer.Argument(metavar="ID")],
    data: Annotated[Path, typer.Option("--data", help="Monitoring data: .csv, .xlsx or .parquet")],
    params: Annotated[Path, typer.Option("--params", help="Project parameters, a JSON object")],
    as_json: Annotated[bool, typer.Option("--json", help="Print RFC 8785 canonical JSON")] = False,
    version: Annotated[str | None, typer.Option(help="Version; default the newest installed")] = None,
    max_file_bytes: Annotated[int | None, typer.Option(help="Refuse larger data files (default 1 GiB)")] = None,
) -> None:
    """Quantify a monitoring data file with a methodology."""
    from methodologies.loading import DEFAULT_MAX_FILE_BYTES, load_table
    from methodologies.registry import get_methodology

    try:
        methodology = get_methodology(methodology_id, version)
        parameters = _read_params(params)
        table = load_table(data, methodology.input_schema, max_file_bytes=max_file_bytes or DEFAULT_MAX_FILE_BYTES)
        quantification = methodology.quantify(table, parameters)
    except MethodologyError as error:
        _fail(str(error))
    if as_json:
        sys.stdout.buffer.write(quantification.to_json() + b"\n")
        sys.stdout.flush()
    else:
        typer.echo(_summary(quantification))
    if quantification.rejected:
        codes = ", ".join(f.code for f in quantification.qa_findings if f.severity.value == "reject")
        typer.echo(f"quantification rejected: {codes}", err=True)
        raise typer.Exit(EXIT_REJECTED)


@methodology_app.command("quantify-bulk")
def quantify_bulk_command(
    methodology_id: Annotated[str, typer.Argument(metavar="ID")],
    data: Annotated[Path, typer.Option("--data", help="Directory of Parquet files (searched recursively)")],
    params: Annotated[
        Path, typer.Option("--params", help="Params table (.csv or .parquet): project, asset column, params JSON")
    ],
    out: Annotated[Path, typer.Option("--out", help="Result directory to create (absent or empty)")],
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler; default a local cluster")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Local cluster size; default one per core")] = None,
    version: Annotated[str | None, typer.Option(help="Version; default the newest installed")] = None,
) -> None:
    """Quantify many projects' data at once on Dask: per-project totals and per-asset results."""
    from methodologies.bulk import (
        check_data_dir,
        check_output_dir,
        dask_client,
        quantify_bulk,
        read_params_table,
        write_bulk_result,
    )
    from methodologies.registry import get_methodology

    try:
        methodology = get_methodology(methodology_id, version)
        check_output_dir(out)
        check_data_dir(data, methodology)
        table = read_params_table(params, methodology)
        with dask_client(scheduler, workers) as client:
            result = quantify_bulk(methodology, data, table, client)
        write_bulk_result(result, out)
    except MethodologyError as error:
        _fail(str(error))
    except OSError as error:  # a scheduler that does not answer, a result directory we cannot write
        _fail(f"{type(error).__name__}: {error}")
    manifest = result.manifest
    typer.echo(
        f"{manifest['rows']:,} rows, {manifest['assets']:,} {methodology.asset_kind.value}s, "
        f"{manifest['projects']:,} projects in {manifest['seconds']:.1f} s on {manifest['workers']} worker(s)"
    )
    typer.echo(f"net {manifest['net_reduction_kg']:,} kg CO2e → {out}")
    if manifest["projects_without_data"]:
        typer.echo(f"no data for {len(manifest['projects_without_data'])} project(s) of the params table: "
                   f"{', '.join(manifest['projects_without_data'][:5])}")
    if manifest["projects_rejected"]:
        rejected = manifest["projects_rejected"]
        typer.echo(f"{len(rejected)} project(s) rejected by QA: {', '.join(rejected[:5])}", err=True)
        raise typer.Exit(EXIT_REJECTED)


@methodology_app.command("bulk-extract")
def bulk_extract_command(
    result_dir: Annotated[Path, typer.Argument(metavar="OUT", help="A quantify-bulk result directory")],
    project: Annotated[str, typer.Option("--project", help="The project's registry id")],
    out: Annotated[Path, typer.Option("--out", help="FILE.parquet; its params go to FILE.params.json")],
) -> None:
    """Write one project's data and params from a bulk result, ready for `cir report create`."""
    from methodologies.bulk import extract_project

    try:
        extracted = extract_project(result_dir, project, out)
    except MethodologyError as error:
        _fail(str(error))
    typer.echo(f"{extracted.rows:,} rows → {extracted.data_path}; params → {extracted.params_path}")
