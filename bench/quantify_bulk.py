"""Benchmark: `cir methodology quantify-bulk` on household PV meters × one month of 15-minute data.

    .venv/bin/python bench/quantify_bulk.py [--meters 1000,10000,100000] [--workers 1,2] [--days 31]

For each size, generates (once, in a child process, so its memory does not count) a directory of
Parquet files of FILE_METERS meters each, in row groups of whole meters, and a params table
grouping the meters into aggregators' projects of PROJECT_METERS households each. Then runs the
bulk engine (methodologies/bulk.py) on a LocalCluster of 1 and of 2 single-threaded worker
processes and prints rows per second, wall time and each worker's peak resident memory
(ru_maxrss, asked of every worker with `client.run`), and the floor: reading the same Parquet
columns with pyarrow, file by file, and summing them with numpy.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path and bench/methodologies.py
# would shadow the `methodologies` package.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from methodologies.bulk import dask_client, quantify_bulk, read_params_table, write_bulk_result  # noqa: E402
from methodologies.pv_dg import METHODOLOGY  # noqa: E402

FILE_METERS = 5_000  # 14.9 M rows, ~110 MB of Parquet per file for a month
PROJECT_METERS = 100  # an aggregator's project: 100 households
HOUSEHOLD_KWP = 5
HOUSEHOLD_AC_KW = 4
LATITUDE, LONGITUDE = 31.3, 120.6


def _bench_methodologies() -> object:
    """bench/methodologies.py, imported under another name (its own would clash with the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_methodologies", Path(__file__).parent / "methodologies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(data_dir: Path, params_path: Path, meters: int, days: int) -> None:
    generator = _bench_methodologies()
    data_dir.mkdir(parents=True, exist_ok=True)
    for first in range(0, meters, FILE_METERS):
        count = min(FILE_METERS, meters - first)
        generator.generate(  # type: ignore[attr-defined]
            data_dir / f"part-{first // FILE_METERS:04d}.parquet", count, days, first_meter=first,
            capacity_kwp=HOUSEHOLD_KWP,
        )
    params = {
        "region": "CN-JS",
        "capacity_kwp": str(HOUSEHOLD_KWP * PROJECT_METERS),
        "inverter_ac_kw": str(HOUSEHOLD_AC_KW * PROJECT_METERS),
        "latitude": LATITUDE,
        "longitude": LONGITUDE,
        "meter_accuracy_class": "1",
        "calibration_due_date": "2030-12-31",
    }
    text = json.dumps(params, sort_keys=True)
    pq.write_table(
        pa.table({
            "project": [f"prj_bench{m // PROJECT_METERS:05d}" for m in range(meters)],
            "meter_id": [f"PV{m:05d}" for m in range(meters)],
            "params": pa.DictionaryArray.from_arrays(pa.array(np.zeros(meters, dtype=np.int32)), pa.array([text])),
        }),
        params_path,
    )


def floor_seconds(data_dir: Path) -> float:
    begin = time.perf_counter()
    total = 0.0
    for path in sorted(data_dir.glob("*.parquet")):
        table = pq.read_table(path, columns=["meter_id", "timestamp", "energy_kwh"], read_dictionary=["meter_id"])
        total += np.sum(table.column("energy_kwh").to_numpy())
        total += np.sum(table.column("timestamp").combine_chunks().cast(pa.int64()).to_numpy())
        total += np.sum(table.column("meter_id").combine_chunks().indices.to_numpy())
    elapsed = time.perf_counter() - begin
    assert total != 0
    return elapsed


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(data_dir: Path, params_path: Path, result_dir: Path, workers: int
        ) -> tuple[float, dict[str, object], list[int]]:
    table = read_params_table(params_path, METHODOLOGY)
    shutil.rmtree(result_dir, ignore_errors=True)
    with dask_client(None, workers) as client:
        begin = time.perf_counter()
        result = quantify_bulk(METHODOLOGY, data_dir, table, client)
        write_bulk_result(result, result_dir)
        seconds = time.perf_counter() - begin
        peaks = sorted(client.run(_peak_rss_bytes).values())
    return seconds, result.manifest, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--workers", default="1,2", help="comma-separated local cluster sizes")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for meters in (int(m) for m in args.meters.split(",")):
        data_dir = args.out / f"bulk_{meters}m_{args.days}d"
        params_path = args.out / f"bulk_{meters}m_params.parquet"
        if args.generate_only:
            generate(data_dir, params_path, meters, args.days)
            continue
        if not params_path.exists():
            shutil.rmtree(data_dir, ignore_errors=True)
            command = [sys.executable, __file__, "--generate-only", "--meters", str(meters), "--days", str(args.days)]
            subprocess.run([*command, "--out", str(args.out)], check=True)
        rows = sum(pq.read_metadata(path).num_rows for path in data_dir.glob("*.parquet"))
        size_mb = sum(path.stat().st_size for path in data_dir.glob("*.parquet")) / 1e6
        print(f"== {meters:,} meters × {args.days} days: {rows:,} rows, {size_mb:,.0f} MB of Parquet, "
              f"{meters // PROJECT_METERS:,} projects of {PROJECT_METERS} meters", flush=True)
        timings = []
        for workers in (int(w) for w in args.workers.split(",")):
            seconds, manifest, peaks = run(data_dir, params_path, args.out / f"bulk_{meters}m_result_{workers}w",
                                           workers)
            timings.append(seconds)
            peak_text = ", ".join(f"{peak / 2**20:,.0f}" for peak in peaks)
            # The client's peak includes the scheduler of the local cluster and the gathered results.
            print(f"{workers} worker(s)  {seconds:8.2f} s  {rows / seconds / 1e6:8.3f} M rows/s  "
                  f"peak RSS per worker [{peak_text}] MiB  client {_peak_rss_bytes() / 2**20:,.0f} MiB  "
                  f"partitions {manifest['partitions']}  net {manifest['net_reduction_kg']:,} kg", flush=True)
        floor = floor_seconds(data_dir)  # last, so that its memory is not counted as the client's
        print(f"floor (pyarrow read + numpy sum)  {floor:8.2f} s  {rows / floor / 1e6:8.2f} M rows/s  "
              f"floor/ours {' '.join(f'{floor / seconds:.4f}' for seconds in timings)}", flush=True)


if __name__ == "__main__":
    main()
