"""Import benchmark (issue 13): `billsim import` of the demo folder against the bare DuckDB read of its files.

    python benchmarks/import.py [--contracts 100000 --usage-rows 10000000 --seed 7] [--runs 3]

One run, on a demo folder written by `billsim demo` (cached in benchmarks/out/demo_folder_c…_u…_s…_<hash>/):

  read_floor_s         best of 3: a fresh file database (benchmarks/out/import_floor.duckdb), and for each CSV
                       file the import reads (every input file of engine.schema.INPUT_TABLES the folder holds:
                       since issue 22 also taxes, coupons, applied_coupons and businesses, which issue 19 added
                       to the import and the floor did not read) `CREATE TABLE t AS SELECT * FROM read_csv(?)`
                       (no checks, DuckDB's own sniffing), CHECKPOINT, close: the whole, summed over the files
  import_s             best of --runs (default 3): `billsim --db benchmarks/out/import_work.duckdb import DIR`
                       into a fresh file database, in a subprocess (interpreter start included)
  ratio_to_read_floor  import_s / read_floor_s
  peak_rss_mb          peak RSS of the import subprocess (the largest of the runs)
  cli_start_s          best of 3: `billsim --help` in a subprocess, the interpreter and the CLI's modules loaded
                       (the part of import_s before any work; since issues 17/18 the CLI loads the server, the
                       HTTP API and the MCP tools for every command); import_s - cli_start_s is the import itself
  read_floor_cpu_s, import_cpu_s, cpu_ratio
                       the same runs in CPU seconds (every thread: the floor's process time, the import
                       subprocess's user + system time), best of each, and their ratio: the machine's 2 cores are
                       shared, and CPU seconds move less with other people's load than wall seconds do

The floor and the import both write a file database on the same disk, and their runs alternate (floor,
import, floor, import, ...) so that a load changing during the run weighs on both. Progress goes to stderr, one
`partial:` JSON line after each step, and the final JSON line on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
BILLSIM = Path(sys.executable).parent / "billsim"
sys.path.insert(0, str(ROOT))

from engine.schema import INPUT_TABLES  # noqa: E402 (after the path: the floor reads what the import reads)

FILES = tuple(INPUT_TABLES)


def log(msg: str) -> None:
    print(f"[import {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def generator_fingerprint() -> str:
    """Short hash of the code that writes the demo folder: reuse a cached folder only if it matches."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "engine" / "ingest").glob("demo*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def billsim_cmd() -> list[str]:
    return [str(BILLSIM)] if BILLSIM.exists() else [sys.executable, "-m", "engine.cli"]


def cached_folder(args) -> tuple[Path, float | None]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"demo_folder_c{args.contracts}_u{args.usage_rows}_s{args.seed}_{generator_fingerprint()}"
    if path.is_dir() and not args.regenerate:
        size = sum(p.stat().st_size for p in path.glob("*.csv"))
        log(f"reusing cached demo folder {path.relative_to(ROOT)} ({size / 2**20:.0f} MiB)")
        return path, None
    tmp = path.with_name(path.name + ".generating")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    log(f"writing the demo folder: {args.contracts:,} contracts / {args.usage_rows:,} usage rows ...")
    t0 = time.perf_counter()
    cmd = billsim_cmd() + ["demo", "--out", str(tmp), "--contracts", str(args.contracts)]
    cmd += ["--usage-rows", str(args.usage_rows), "--seed", str(args.seed)]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)
    seconds = time.perf_counter() - t0
    tmp.rename(path)  # only a complete folder becomes the cache
    log(f"written in {seconds:.1f} s")
    return path, seconds


def fresh(db: Path) -> None:
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)


def read_floor_once(folder: Path, db: Path) -> tuple[float, float, dict[str, int]]:
    """(seconds, CPU seconds of this process, rows per table)."""
    import duckdb

    fresh(db)
    t0, cpu0 = time.perf_counter(), time.process_time()
    con = duckdb.connect(str(db))
    counts = dict.fromkeys(FILES, 0)  # as the import reports them: 0 for a file the folder lacks
    for name in FILES:
        csv = folder / f"{name}.csv"
        if not csv.exists():
            continue
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv(?)", [str(csv)])
        counts[name] = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - t0, time.process_time() - cpu0, counts


def cli_start_once() -> float:
    """Seconds of `billsim --help`: the interpreter and the CLI's imports, no database opened."""
    t0 = time.perf_counter()
    subprocess.run(billsim_cmd() + ["--help"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def import_once(folder: Path, db: Path) -> tuple[float, float, float, dict]:
    """(seconds, CPU seconds and peak RSS MB of the subprocess, imported counts)."""
    fresh(db)
    cmd = billsim_cmd() + ["--db", str(db), "import", str(folder)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here: its own rusage (peak RSS)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.stderr.write(err.read())
            raise SystemExit(f"billsim import failed ({proc.returncode})")
        cpu = usage.ru_utime + usage.ru_stime
        return seconds, cpu, usage.ru_maxrss / 1024, json.loads(out.read())["imported"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Import benchmark: billsim import vs the bare read_csv floor (issue 13).")
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--usage-rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3, help="imports timed (best of); the floor is always best of 3")
    ap.add_argument("--regenerate", action="store_true", help="rewrite the cached demo folder")
    args = ap.parse_args(argv)

    figures: dict = {
        "contracts": args.contracts,
        "usage_rows": args.usage_rows,
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }

    def partial(**kv) -> None:
        figures.update(kv)
        print("partial: " + json.dumps(figures), file=sys.stderr, flush=True)

    folder, gen_s = cached_folder(args)
    if gen_s is not None:
        partial(demo_s=round(gen_s, 1))
    partial(csv_mib=round(sum(p.stat().st_size for p in folder.glob("*.csv")) / 2**20, 1))

    # Interleaved (floor, import, floor, import, ...): a load that changes during the run weighs on both sides.
    floor_db, work = OUT / "import_floor.duckdb", OUT / "import_work.duckdb"
    floors, times, starts, rss, counts, imported = [], [], [], 0.0, {}, {}
    floor_cpus, import_cpus = [], []
    for i in range(max(3, args.runs)):
        if i < 3:
            starts.append(cli_start_once())
            partial(cli_start_s=round(min(starts), 3))
            seconds, cpu, counts = read_floor_once(folder, floor_db)
            floors.append(seconds)
            floor_cpus.append(cpu)
            fresh(floor_db)
            log(f"read floor #{i + 1}: {seconds:.2f} s")
            partial(read_floor_s=round(min(floors), 3), read_floor_runs_s=[round(t, 2) for t in floors])
            partial(read_floor_cpu_s=round(min(floor_cpus), 3))
        if i < max(1, args.runs):
            seconds, cpu, peak, imported = import_once(folder, work)
            times.append(seconds)
            import_cpus.append(cpu)
            rss = max(rss, peak)
            fresh(work)
            log(f"billsim import #{i + 1}: {seconds:.2f} s (peak RSS {peak:.0f} MB)")
            partial(
                import_s=round(min(times), 3), import_runs_s=[round(t, 2) for t in times], peak_rss_mb=round(rss, 1)
            )
            partial(import_cpu_s=round(min(import_cpus), 3))
    best = min(floors)
    if imported != counts:
        log(f"note: imported counts {imported} differ from the floor's {counts}")

    final = {
        "contracts": args.contracts,
        "usage_rows": args.usage_rows,
        "read_floor_s": figures["read_floor_s"],
        "import_s": figures["import_s"],
        "ratio_to_read_floor": round(min(times) / best, 2),
    }
    final |= {k: v for k, v in figures.items() if k not in final}
    final["cpu_ratio"] = round(min(import_cpus) / min(floor_cpus), 2)
    final["imported_rows"] = imported
    final["loadavg_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(final), flush=True)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
