"""Benchmark: CIR-PV-DG quantification of 1,000 meters × one year of 15-minute data (35 M rows).

    .venv/bin/python bench/methodologies.py [--meters 1000] [--days 365] [--out bench/out]

Generates synthetic Parquet once (in a child process, so its memory does not count), then
times load + validation + all QA + quantification end to end, and the floor: reading the
same Parquet columns with pyarrow and summing them with numpy. Prints rows per second,
peak resident memory (ru_maxrss) and floor_time / our_time.
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path and its name would shadow
# the `methodologies` package it benchmarks.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from methodologies.loading import load_table  # noqa: E402
from methodologies.pv_dg import METHODOLOGY  # noqa: E402
from methodologies.solar import sun_elevation_deg  # noqa: E402

INTERVAL_S = 900
START_UTC_S = 1_672_502_400  # 2023-01-01T00:00:00+08:00
LATITUDE, LONGITUDE = 31.3, 120.6  # Suzhou
CAPACITY_KWP = 100
ROWS_PER_GROUP = 1_048_576


def generate(path: Path, meters: int, days: int, first_meter: int = 0, capacity_kwp: float = CAPACITY_KWP) -> None:
    """Sun-shaped generation with noise; written in row groups of whole meters.

    Meters are named PV00000, PV00001, …; `first_meter` starts the numbering further on, so that
    several files of one data set (bench/quantify_bulk.py) name different meters.
    """
    intervals = days * 86_400 // INTERVAL_S
    start_s = START_UTC_S + np.arange(intervals, dtype=np.int64) * INTERVAL_S
    # Output follows the sun's height at mid-interval, so QA excludes nothing by design.
    elevation = sun_elevation_deg(start_s + INTERVAL_S // 2, LATITUDE, LONGITUDE)
    shape = np.clip(np.sin(np.radians(elevation)), 0, None)
    rng = np.random.default_rng(42 + first_meter)
    schema = pa.schema(
        [
            ("meter_id", pa.dictionary(pa.int32(), pa.string())),
            ("timestamp", pa.timestamp("us", tz="Asia/Shanghai")),
            ("energy_kwh", pa.float64()),
        ]
    )
    meter_names = pa.array([f"PV{m:05d}" for m in range(first_meter, first_meter + meters)])
    meters_per_group = max(1, ROWS_PER_GROUP // intervals)
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, meters, meters_per_group):
            group = np.arange(first, min(meters, first + meters_per_group))
            noise = rng.uniform(0.85, 1.0, size=(len(group), intervals))
            energy = np.round(capacity_kwp * 0.2 * shape * noise, 3).ravel()
            codes = np.repeat(group.astype(np.int32), intervals)
            writer.write_table(
                pa.table(
                    {
                        "meter_id": pa.DictionaryArray.from_arrays(pa.array(codes), meter_names),
                        "timestamp": pa.array(
                            np.tile(start_s * 1_000_000, len(group)), pa.timestamp("us", tz="UTC")
                        ).cast(pa.timestamp("us", tz="Asia/Shanghai")),
                        "energy_kwh": pa.array(energy),
                    },
                    schema=schema,
                )
            )


def floor_seconds(path: Path) -> float:
    begin = time.perf_counter()
    table = pq.read_table(path, columns=["meter_id", "timestamp", "energy_kwh"], read_dictionary=["meter_id"])
    total = np.sum(table.column("energy_kwh").to_numpy())
    total += np.sum(table.column("timestamp").combine_chunks().cast(pa.int64()).to_numpy())
    total += np.sum(table.column("meter_id").combine_chunks().indices.to_numpy())
    elapsed = time.perf_counter() - begin
    assert total != 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"pv_{args.meters}m_{args.days}d.parquet"
    if args.generate_only:
        generate(path, args.meters, args.days)
        return
    if not path.exists():
        command = [
            sys.executable,
            __file__,
            "--generate-only",
            "--meters",
            str(args.meters),
            "--days",
            str(args.days),
        ]
        subprocess.run([*command, "--out", str(args.out)], check=True)
    rows = pq.read_metadata(path).num_rows
    params = {
        "region": "CN-JS",
        "capacity_kwp": CAPACITY_KWP * args.meters,
        "inverter_ac_kw": 80 * args.meters,
        "meter_ratings": {
            f"PV{m:05d}": {"capacity_kwp": CAPACITY_KWP, "inverter_ac_kw": 80} for m in range(args.meters)
        },
        "latitude": LATITUDE,
        "longitude": LONGITUDE,
        "meter_accuracy_class": "0.5S",
        "calibration_due_date": "2023-10-31",
    }
    begin = time.perf_counter()
    frame = load_table(path, METHODOLOGY.input_schema, max_file_bytes=1 << 34)
    loaded = time.perf_counter()
    quantification = METHODOLOGY.quantify(frame, params)
    our_seconds = time.perf_counter() - begin
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    floor = floor_seconds(path)
    print(f"rows                 {rows:,}")
    print(f"load + normalise     {loaded - begin:.2f} s")
    print(f"quantify (QA + sums) {our_seconds - (loaded - begin):.2f} s")
    print(f"end to end           {our_seconds:.2f} s  = {rows / our_seconds / 1e6:.2f} M rows/s")
    print(f"peak memory          {peak_gib:.2f} GiB (ru_maxrss)")
    print(f"floor (read + numpy) {floor:.2f} s  = {rows / floor / 1e6:.2f} M rows/s")
    print(f"floor_time/our_time  {floor / our_seconds:.3f}")
    print(f"net reduction        {quantification.totals.net_reduction_kg:,} kg CO2e")
    findings = ", ".join(f"{f.code}×{f.count}" for f in quantification.qa_findings) or "none"
    print(f"QA findings          {findings}")


if __name__ == "__main__":
    main()
