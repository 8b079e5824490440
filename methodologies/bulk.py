"""Grid-scale quantification: one methodology over a directory of Parquet, on a Dask cluster.

Tens of thousands of household meters belong to hundreds of projects (an aggregator's project
per street or village). The bulk engine runs the *same* `Methodology.quantify` on each
project's rows, so its figures equal, to the kilogram and byte for byte, what quantifying that
project alone gives; it is only a way to get there without holding the grid's data in one
process:

1. the params table (one row per asset: project, asset, the project's params as JSON) is read
   and checked on the client — it is small;
2. one pass over the asset column refuses data whose assets are in no project;
3. the data are read partition by partition, tagged with their project, and shuffled by project
   with Dask's disk-backed (p2p) shuffle so that each project's rows meet in one partition;
4. each partition quantifies its projects (the project total) and each of their assets alone
   (the per-asset figures); only these small results travel back to the client.

A worker therefore holds one row group as read and one shuffled partition (`ROWS_PER_PARTITION`
rows, or the largest project if that is bigger) at a time, not the input. A project's total is
the plugin run on the whole project, rounded per vintage, so it is not the sum of its assets'
rounded figures (and plant-level parameters such as certificate claims apply to each asset's own
run as given).

The data directory must be readable at the same path by the client and every worker (a shared
file system when the cluster is remote); the params go to the workers with the tasks.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from methodologies.errors import MethodologyError
from methodologies.factors import load_factor_table
from methodologies.plugin import Methodology
from methodologies.quantification import MAX_EXAMPLES, Quantification, Quantities
from methodologies.registry import get_methodology

if TYPE_CHECKING:
    from distributed import Client

MANIFEST_FORMAT = "cir-bulk-1"
PROJECTS_FILE, ASSETS_FILE, MANIFEST_FILE = "projects.parquet", "assets.parquet", "manifest.json"
PROJECT, PARAMS = "project", "params"
# Rows per partition after the shuffle: about 50 MB of pandas columns, a few hundred MB at the
# peak of quantifying it. A project larger than this still lands in a single partition.
ROWS_PER_PARTITION = 1_000_000

_QUANTITY_FIELDS = ("baseline_kg", "removals_kg", "project_kg", "leakage_kg")
_DEDUCTION_FIELDS = ("uncertainty_kg", "late_calibration_kg", "green_certificate_kg", "buffer_kg")
_NET_AND_ACTIVITY_FIELDS = ("net_reduction_kg", "credited_energy_wh", "excluded_energy_wh", "credited_area_m2",
                    "excluded_area_m2")
# In the order of `Quantities`, deductions flattened in place; the last four are null where the
# methodology has no such measure.
_QUANTITY_COLUMNS = [
    *((name, pa.int64()) for name in (*_QUANTITY_FIELDS, *_DEDUCTION_FIELDS, *_NET_AND_ACTIVITY_FIELDS))
]
PROJECTS_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("rows", pa.int64()),
        ("assets", pa.int64()),
        ("rejected", pa.bool_()),
        *_QUANTITY_COLUMNS,
        ("input_fingerprint", pa.string()),
        ("params_json", pa.string()),
        # `Quantification.to_json()`: RFC 8785 bytes, stored as the UTF-8 text they are.
        ("quantification_json", pa.string()),
    ]
)
ASSETS_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("asset", pa.string()),
        ("rows", pa.int64()),
        ("vintage_year", pa.int32()),  # null when no row of the asset was quantifiable
        ("rejected", pa.bool_()),
        *_QUANTITY_COLUMNS,
        ("input_fingerprint", pa.string()),
    ]
)


class BulkInputError(MethodologyError):
    """A bulk input refused as a whole: nothing is quantified, nothing is written."""


@dataclass(frozen=True)
class ParamsTable:
    """Who owns which asset, and each project's parameters (as given and as parsed)."""

    path: Path
    project_by_asset: dict[str, str]
    params_json_by_project: dict[str, str]
    params_by_project: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class BulkResult:
    projects: pa.Table
    assets: pa.Table
    manifest: dict[str, Any]


def read_params_table(path: Path, methodology: Methodology[Any]) -> ParamsTable:
    """Read and check the params table; every refusal names the row, asset or project at fault."""
    frame = _read_small_table(path)
    asset_column = methodology.asset_column
    missing = [name for name in (PROJECT, asset_column, PARAMS) if name not in frame.columns]
    if missing:
        raise BulkInputError(f"params table {path.name}: missing column(s) {', '.join(missing)} "
                             f"(expected: {PROJECT}, {asset_column}, {PARAMS})")
    if len(frame) == 0:
        raise BulkInputError(f"params table {path.name}: no rows")
    for name in (PROJECT, asset_column, PARAMS):
        empty = frame[name].isna() | (frame[name].str.strip() == "")
        if empty.any():
            first = int(empty.to_numpy(dtype=bool, na_value=True).argmax()) + 1
            raise BulkInputError(f"params table {path.name}, row {first}: empty {name}")
    params_json_by_project: dict[str, str] = {}
    params_by_project: dict[str, dict[str, Any]] = {}
    for project, rows in frame.groupby(PROJECT, sort=True):
        texts = rows[PARAMS].unique().tolist()
        parsed = [_parse_params_json(str(project), text) for text in texts]
        if any(other != parsed[0] for other in parsed[1:]):
            raise BulkInputError(f"project {project}: its rows in the params table carry different params")
        try:
            methodology.parse_params(parsed[0])
        except MethodologyError as error:
            raise BulkInputError(f"project {project}: {error}") from error
        params_json_by_project[str(project)] = texts[0]
        params_by_project[str(project)] = parsed[0]
    owners = frame[[asset_column, PROJECT]].drop_duplicates()
    shared = owners[owners.duplicated(asset_column, keep=False)]
    if len(shared):
        asset = shared[asset_column].iloc[0]
        projects = sorted(shared.loc[shared[asset_column] == asset, PROJECT])
        count = shared[asset_column].nunique()
        raise BulkInputError(f"{count} {methodology.asset_kind.value}(s) are listed under two projects, e.g. "
                             f"{asset} in {' and '.join(projects)}")
    return ParamsTable(
        path=path.resolve(),
        project_by_asset=dict(zip(owners[asset_column], owners[PROJECT], strict=True)),
        params_json_by_project=params_json_by_project,
        params_by_project=params_by_project,
    )


def _read_small_table(path: Path) -> pd.DataFrame:
    """The params table as text cells: CSV (UTF-8, header on line 1) or Parquet."""
    if not path.is_file():
        raise BulkInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        elif suffix == ".parquet":
            frame = pq.read_table(path).to_pandas()
        else:
            raise BulkInputError(f"{path.name}: the params table must be .csv or .parquet")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, pa.ArrowException) as error:
        raise BulkInputError(f"{path.name}: not a readable params table ({error})") from error
    return frame.astype("string")


def _parse_params_json(project: str, text: str) -> dict[str, Any]:
    # Decimals stay text, as `cir methodology quantify` reads a params file: no float rounding.
    try:
        loaded = json.loads(text, parse_float=str)
    except json.JSONDecodeError as error:
        raise BulkInputError(f"project {project}: params are not valid JSON ({error.msg})") from error
    if not isinstance(loaded, dict):
        raise BulkInputError(f"project {project}: params must be a JSON object")
    return loaded


def parquet_files(data_dir: Path) -> list[Path]:
    if not data_dir.is_dir():
        raise BulkInputError(f"{data_dir}: no such directory")
    files = sorted(path for path in data_dir.rglob("*.parquet") if path.is_file())
    if not files:
        raise BulkInputError(f"{data_dir}: no Parquet files")
    return files


def _data_columns(files: list[Path], methodology: Methodology[Any]) -> tuple[list[str], int]:
    """The schema's columns the files have (all required ones, nothing else), and the row count.

    Every file's footer is read, so the refusal names the file at fault; no data page is read.
    """
    expected = methodology.input_schema.names
    required = [c.name for c in methodology.input_schema.columns if c.required]
    present: list[str] | None = None
    rows = 0
    for path in files:
        try:
            metadata = pq.read_metadata(path)
        except (pa.ArrowException, OSError) as error:
            raise BulkInputError(f"data: {path.name} is not a readable Parquet file ({error})") from error
        names = set(metadata.schema.to_arrow_schema().names)
        unexpected = sorted(names - set(expected))
        if unexpected:
            raise BulkInputError(f"data: {path.name} has unexpected column(s) {', '.join(unexpected)} "
                                 f"(expected: {', '.join(expected)})")
        missing = [name for name in required if name not in names]
        if missing:
            raise BulkInputError(f"data: {path.name} lacks required column(s) {', '.join(missing)}")
        columns = [name for name in expected if name in names]
        if present is not None and columns != present:
            raise BulkInputError(f"data: {path.name} has columns {', '.join(columns)}, other files "
                                 f"{', '.join(present)}")
        present = columns
        rows += metadata.num_rows
    if rows == 0 or present is None:
        raise BulkInputError("data: no data rows")
    return present, rows


def check_data_dir(data_dir: Path, methodology: Methodology[Any]) -> None:
    """The refusals that need only the files' metadata, before any cluster is started."""
    _data_columns(parquet_files(data_dir), methodology)


def check_output_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BulkInputError(f"{out}: exists and is not an empty directory; not overwriting")


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, processes: bool = True) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, or of a LocalCluster of `workers` single-threaded workers.

    One thread per worker: quantification holds the GIL in pydantic and pandas between numpy
    calls, so processes, not threads, are what scale.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=processes,
                     dashboard_address=":0", silence_logs=logging.ERROR) as cluster,
        Client(cluster) as client,
    ):
        yield client


def quantify_bulk(
    methodology: Methodology[Any],
    data_dir: Path,
    params_table: ParamsTable,
    client: Client,
    *,
    rows_per_partition: int = ROWS_PER_PARTITION,
) -> BulkResult:
    """Quantify every project of `params_table` on the data in `data_dir`, on `client`'s cluster."""
    import dask
    import dask.dataframe as dd

    begin = time.perf_counter()
    files = parquet_files(data_dir)
    columns, total_rows = _data_columns(files, methodology)
    asset_column = methodology.asset_column
    # A row group is the unit of reading: a worker holds one at a time (about 20 MB per million rows).
    frame = dd.read_parquet([str(path) for path in files], columns=columns, split_row_groups=True)

    seen = client.compute([dask.delayed(_distinct_assets)(part)
                           for part in frame[asset_column].to_delayed()], sync=True)
    assets_in_data: set[str] = set().union(*(found for found, _ in seen))
    unnamed_rows = sum(count for _, count in seen)
    if unnamed_rows:
        raise BulkInputError(f"data: {unnamed_rows} rows have no {asset_column}")
    unknown = sorted(assets_in_data - params_table.project_by_asset.keys())
    if unknown:
        more = ", …" if len(unknown) > MAX_EXAMPLES else ""
        raise BulkInputError(f"{len(unknown)} {methodology.asset_kind.value}s in the data are in no project of the "
                             f"params table: {', '.join(unknown[:MAX_EXAMPLES])}{more}")

    projects = sorted(params_table.params_by_project)
    code_by_project = {project: code for code, project in enumerate(projects)}
    project_codes = {asset: code_by_project[project] for asset, project in params_table.project_by_asset.items()}
    meta = frame._meta.assign(**{asset_column: pd.Series(dtype="string"), PROJECT: pd.Series(dtype="int32")})
    tagged = frame.map_partitions(_attach_project, asset_column, dask.delayed(project_codes, traverse=False),
                                  meta=meta)
    # Enough partitions to keep every worker busy to the end, none larger than rows_per_partition.
    workers = len(client.nthreads())
    partitions = max(frame.npartitions, math.ceil(total_rows / rows_per_partition),
                     min(len(params_table.params_by_project), 4 * workers))
    by_project = tagged.shuffle(on=PROJECT, npartitions=partitions, shuffle_method="p2p")
    params = dask.delayed([params_table.params_json_by_project[project] for project in projects], traverse=False)
    parts = [dask.delayed(_quantify_partition)(part, methodology.id, methodology.version, projects, params)
             for part in by_project.to_delayed()]
    results = client.compute(parts, sync=True)

    project_table = pa.concat_tables([found for found, _ in results]).sort_by("project")
    asset_table = pa.concat_tables([found for _, found in results]).sort_by(
        [("project", "ascending"), ("asset", "ascending"), ("vintage_year", "ascending")])
    quantified = set(project_table.column("project").to_pylist())
    rejected = project_table.filter(pc.field("rejected")).column("project").to_pylist()
    manifest = {
        "format": MANIFEST_FORMAT,
        "methodology_id": methodology.id,
        "methodology_version": methodology.version,
        "data_dir": str(data_dir.resolve()),
        "data_files": len(files),
        "params_table": str(params_table.path),
        "rows": total_rows,
        "assets": len(assets_in_data),
        "projects": project_table.num_rows,
        "projects_rejected": rejected,
        "projects_without_data": sorted(params_table.params_by_project.keys() - quantified),
        "net_reduction_kg": pc.sum(project_table.column("net_reduction_kg")).as_py() or 0,
        "partitions": partitions,
        "workers": workers,
        "scheduler": client.scheduler.address if client.scheduler else None,
        "seconds": round(time.perf_counter() - begin, 3),
    }
    return BulkResult(projects=project_table, assets=asset_table, manifest=manifest)


def _distinct_assets(assets: pd.Series) -> tuple[set[str], int]:
    """The asset ids one partition names, and how many of its rows name none."""
    if isinstance(assets.dtype, pd.CategoricalDtype):
        present = assets.cat.remove_unused_categories().cat.categories
    else:
        present = assets.dropna().unique()
    return {str(value) for value in present}, int(assets.isna().sum())


def _attach_project(part: pd.DataFrame, asset_column: str, project_codes: Mapping[str, int]) -> pd.DataFrame:
    """Add each row's project as a small integer (cheap to hash and to shuffle), and the asset as text.

    Text, not the file's dictionary: the shuffle would have to unify the dictionaries of every
    file (Arrow refuses once they outgrow the codes' integer type), and after it a category list
    naming every asset of the grid would be examined again by every quantification.
    """
    assets = part[asset_column]
    if isinstance(assets.dtype, pd.CategoricalDtype):
        # Once per distinct asset in the file's dictionary, not once per row.
        by_category = pd.Series(assets.cat.categories).map(project_codes).fillna(-1).to_numpy(dtype="int32")
        codes = by_category[assets.cat.codes.to_numpy()]
    else:
        codes = assets.astype("string").map(project_codes).to_numpy(dtype="int32")
    return part.assign(**{asset_column: assets.astype("string"), PROJECT: codes})


class BulkQuantificationError(MethodologyError):
    """The plugin refused a project's data on a worker; raised with the project named."""


def _quantify_partition(
    part: pd.DataFrame, methodology_id: str, methodology_version: str, projects: list[str],
    params_json_by_code: list[str],
) -> tuple[pa.Table, pa.Table]:
    """Each project in the partition, then each of its assets alone: the same `quantify` as ever.

    The results go back as Arrow tables, a few dozen bytes per asset, not as Python objects: a
    worker keeps them until the client gathers every partition's.
    """
    methodology = get_methodology(methodology_id, methodology_version)
    factors = load_factor_table()
    asset_column = methodology.asset_column
    columns = [name for name in part.columns if name != PROJECT]
    project_records: list[dict[str, Any]] = []
    asset_records: list[dict[str, Any]] = []
    for code, rows in part.groupby(PROJECT, sort=True):
        project = projects[int(code)]
        data = rows[columns]
        try:
            params_json = params_json_by_code[int(code)]
            params = methodology.parse_params(json.loads(params_json, parse_float=str))
            quantification = methodology.quantify(data, params, factors)
            by_asset = [(str(asset), methodology.quantify(asset_rows, params, factors), len(asset_rows))
                        for asset, asset_rows in data.groupby(asset_column, sort=True, observed=True)]
        except MethodologyError as error:
            raise BulkQuantificationError(f"project {project}: {error}") from None
        project_records.append({
            "project": project,
            "rows": len(rows),
            "assets": len(by_asset),
            "rejected": quantification.rejected,
            **_quantities(quantification.totals),
            "input_fingerprint": quantification.input_fingerprint,
            "params_json": params_json,
            "quantification_json": quantification.to_json().decode(),
        })
        for asset, alone, asset_rows in by_asset:
            asset_records.extend(_asset_records(project, asset, alone, asset_rows))
    return (pa.Table.from_pylist(project_records, schema=PROJECTS_SCHEMA),
            pa.Table.from_pylist(asset_records, schema=ASSETS_SCHEMA))


def _asset_records(project: str, asset: str, quantification: Quantification, rows: int) -> list[dict[str, Any]]:
    common = {"project": project, "asset": asset, "rows": rows, "rejected": quantification.rejected,
              "input_fingerprint": quantification.input_fingerprint}
    if not quantification.vintages:
        return [{**common, "vintage_year": None, **_quantities(quantification.totals)}]
    return [{**common, "vintage_year": vintage.vintage_year, **_quantities(vintage)}
            for vintage in quantification.vintages]


def _quantities(quantities: Quantities) -> dict[str, int | None]:
    flat: dict[str, int | None] = {
        name: getattr(quantities, name) for name in (*_QUANTITY_FIELDS, *_NET_AND_ACTIVITY_FIELDS)
    }
    flat.update({name: getattr(quantities.deductions, name) for name in _DEDUCTION_FIELDS})
    return flat


def write_bulk_result(result: BulkResult, out: Path) -> None:
    """Write the three files beside `out`, then rename into place: `out` is complete or absent."""
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()
    try:
        pq.write_table(result.projects, staging / PROJECTS_FILE)
        pq.write_table(result.assets, staging / ASSETS_FILE)
        (staging / MANIFEST_FILE).write_text(json.dumps(result.manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, as checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass(frozen=True)
class ExtractedProject:
    data_path: Path
    params_path: Path
    rows: int
    quantification_json: str


def extract_project(result_dir: Path, project: str, out: Path) -> ExtractedProject:
    """One project's input rows and params from a bulk result, for `cir report create`.

    The rows are read again from the data directory named in the manifest, and quantified once
    more here: if the data changed since the bulk run the fingerprints differ and nothing is left
    behind, so a report made from the extract always shows the bulk's figures.
    """
    manifest_path = result_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BulkInputError(f"{result_dir}: not a bulk result ({MANIFEST_FILE} unreadable: {error})") from error
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BulkInputError(f"{result_dir}: not a bulk result of format {MANIFEST_FORMAT}")
    methodology = get_methodology(manifest["methodology_id"], manifest["methodology_version"])
    projects = pq.read_table(result_dir / PROJECTS_FILE, filters=[("project", "==", project)]).to_pylist()
    if not projects:
        raise BulkInputError(f"project {project} is not in the bulk result {result_dir}")
    record = projects[0]
    assets = pc.unique(pq.read_table(result_dir / ASSETS_FILE, columns=["asset"],
                                     filters=[("project", "==", project)]).column("asset")).to_pylist()
    if out.suffix.lower() != ".parquet":
        raise BulkInputError(f"{out}: the extract is written as Parquet; name it FILE.parquet")
    params_path = out.with_suffix(".params.json")
    for path in (out, params_path):
        if path.exists():
            raise BulkInputError(f"{path}: exists; not overwriting")
    files = parquet_files(Path(manifest["data_dir"]))
    columns, _ = _data_columns(files, methodology)
    dataset = ds.dataset([str(path) for path in files], format="parquet")
    wanted = pc.field(methodology.asset_column).cast(pa.string()).isin(pa.array(assets, pa.string()))
    scanner = dataset.scanner(columns=columns, filter=wanted)
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with pq.ParquetWriter(out, scanner.projected_schema) as writer:
            for batch in scanner.to_batches():
                if batch.num_rows:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        data = pq.read_table(out).to_pandas()
        again = methodology.quantify(data, json.loads(record["params_json"], parse_float=str))
        if again.input_fingerprint != record["input_fingerprint"]:
            raise BulkInputError(f"project {project}: the data in {manifest['data_dir']} changed since the bulk run "
                                 f"(input fingerprint {again.input_fingerprint}, bulk {record['input_fingerprint']})")
        params_path.write_text(record["params_json"], encoding="utf-8")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ExtractedProject(out, params_path, rows, record["quantification_json"])
