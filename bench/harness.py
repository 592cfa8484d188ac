"""bench/run's driver: runs every selected workload against every selected system in one
run and writes <out>/<date>.json, <out>/<date>.md and PNG plots (report.py).

Usage (bench/run builds the binaries first and passes them in):
  .venv/bin/python bench/harness.py --hyprstream-bin B --arrow-go-bin G [--quick]
      [--floor-client-bin F] [--systems a,b] [--workloads a,b] [--out DIR] [--no-plots]
      [--development]
Progress goes to stderr: elapsed time, workload, system, how far.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
import traceback

import duckdb
import pyarrow as pa

import report
from bench_data import metric_rows
from systems import SYSTEM_NAMES, make_systems
from workloads import SIZES, WORKLOADS

ROOT = pathlib.Path(__file__).resolve().parents[1]


class Progress:
    """One line per step on stderr: [+elapsed] workload | system | detail."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.start = stream, time.monotonic()
        self.workload = self.system = ""
        self.last_tick = 0.0

    def begin(self, workload, system):
        self.workload, self.system = workload, system
        self.note("start")

    def note(self, detail):
        elapsed = time.monotonic() - self.start
        print(f"[+{elapsed:6.1f}s] {self.workload} | {self.system} | {detail}",
              file=self.stream, flush=True)

    def tick(self, done, total):
        """Counts of a long loop, at most about one line per 2 s (and the last)."""
        now = time.monotonic()
        if done == total or now - self.last_tick > 2:
            self.last_tick = now
            self.note(f"{done:,}/{total:,}")


class Context:
    def __init__(self, sizes, progress, floor_client=None):
        self.sizes, self.progress = sizes, progress
        self.floor_client = floor_client  # bench/floor_client.cc's binary (workloads.py)
        self._state, self._data = {}, {}

    def state(self, system):
        return self._state.setdefault(system.name, {})

    def metric_data(self, rows, keys=None):
        """metric_rows(rows, keys, late=False), generated once per size."""
        key = (rows, keys or self.sizes.window_keys)
        if key not in self._data:
            self._data[key] = metric_rows(rows, key[1], late=False)
        return self._data[key]


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(args):
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = SIZES[mode]
    progress = Progress()
    ctx = Context(sizes, progress, args.floor_client_bin)
    systems = make_systems(args.systems, args.hyprstream_bin, args.arrow_go_bin)
    scaled = "" if mode == "full" else ", row counts SCALED DOWN"
    print(f"bench: {mode} mode{scaled}: {len(args.workloads)} workloads x {len(systems)} "
          f"systems; sizes {vars(sizes)}", file=sys.stderr, flush=True)
    results = {w: {} for w in args.workloads}
    errors = []
    with tempfile.TemporaryDirectory(prefix="hyprstream-bench-") as log_dir:
        for n, system in enumerate(systems, 1):
            progress.begin(f"system {n}/{len(systems)}", system.name)
            try:
                system.start(log_dir)
            except Exception as e:  # the other systems still run
                traceback.print_exc()
                errors.append(f"{system.name} did not start: {type(e).__name__}: {e}")
                for w in args.workloads:
                    results[w][system.name] = {"error": f"did not start: {e}"}
                continue
            try:
                for w in args.workloads:
                    title, fn = WORKLOADS[w]
                    progress.begin(title, system.name)
                    try:
                        results[w][system.name] = fn(system, ctx)
                    except Exception as e:  # one failure must not lose the whole run
                        traceback.print_exc()
                        errors.append(f"{w} / {system.name}: {type(e).__name__}: {e}")
                        results[w][system.name] = {"error": f"{type(e).__name__}: {e}"}
                    floor = results[w][system.name].get("floor", {})
                    if "error" in floor:  # recorded beside the figures it did not spoil
                        errors.append(f"{w} / {system.name} floor client: {floor['error']}")
                    progress.note(json.dumps(results[w][system.name]))
            finally:
                system.stop()
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "meta": {
            "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "mode": mode,
            "development": args.development, "note": args.note,
            "scaled_down": mode != "full", "commit": git_commit(), "cpus": os.cpu_count(),
            "machine": platform.platform(), "python": platform.python_version(),
            "pyarrow": pa.__version__, "duckdb": duckdb.__version__,
            "duration_s": round(time.monotonic() - progress.start, 1),
            "sizes": vars(sizes) | {"clients": list(sizes.clients)},
            "systems": {s.name: {"label": s.label, "bulk_path": s.bulk_path,
                                 "stream_path": s.stream_path} for s in systems},
            "errors": errors,
        },
        "results": results,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="scaled-down sizes, under 3 minutes on 2 cores")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test
    parser.add_argument("--systems", default=",".join(SYSTEM_NAMES))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--development", action="store_true",
                        help="mark the report as a development run (noisy machine)")
    parser.add_argument("--note", default="", help="free text recorded in the report")
    parser.add_argument("--hyprstream-bin", default=str(ROOT / "build-bench" / "hyprstream"))
    parser.add_argument("--arrow-go-bin",
                        default=str(ROOT / "build-bench" / "peers" / "sqlite_flightsql_server"))
    parser.add_argument("--floor-client-bin", default=None,
                        help="bench/floor_client.cc's binary (default: bench/floor_client in "
                             "the hyprstream binary's build directory)")
    args = parser.parse_args(argv)
    if args.floor_client_bin is None:
        args.floor_client_bin = str(pathlib.Path(args.hyprstream_bin).parent / "bench" /
                                    "floor_client")
    args.systems = [s for s in args.systems.split(",") if s]
    args.workloads = [w for w in args.workloads.split(",") if w]
    for s in args.systems:
        if s not in SYSTEM_NAMES:
            parser.error(f"unknown system {s!r}; known: {', '.join(SYSTEM_NAMES)}")
    for w in args.workloads:
        if w not in WORKLOADS:
            parser.error(f"unknown workload {w!r}; known: {', '.join(WORKLOADS)}")

    data = run(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = data["meta"]["date"].replace(":", "")[:17]  # 2026-11-25T161500
    if data["meta"]["mode"] != "full":
        stem += f"-{data['meta']['mode']}"
    paths = report.write(data, out, stem, plots=not args.no_plots)
    for p in paths:
        print(p)
    return 1 if data["meta"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
