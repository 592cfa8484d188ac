"""`metrics` ingest end to end (issue 15's target: >= 4M rows/s): rows/s of bulk ingest
(adbc_ingest, 512k-row batches) and of one streaming DoPut (10k-row batches) into the built-in
metrics table, for server configurations compared side by side, interleaved, median of
--repeat fresh servers each. The server computes the running columns and folds every row into
the metrics windows (and metrics_trailing unless --metrics-trailing-window 0).

  .venv/bin/python bench/metrics_ingest_bench.py [--rows 5000000] [--keys 5000] [--repeat 3]
      [--jitter-ms 0] [--case NAME=ARGS ...]
      (default cases: windows as shipped vs --metrics-trailing-window 0)

--jitter-ms J moves every row's timestamp by a uniform random offset in [-J, +J] ms, the order
in which several writers of one metric deliver rows: about half the rows arrive behind their
metric's newest row.

HYPRSTREAM_BIN overrides build/hyprstream; --case NAME=BIN|ARGS runs another binary.
"""
import argparse
import pathlib
import shlex
import statistics
import sys
import time

import adbc_driver_flightsql.dbapi
import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_server import start_hyprstream, stop  # noqa: E402


def metric_batches(rows, keys, batch_rows, jitter_ms=0.0):
    """Rows over the last `rows / 100k` seconds up to now, keys cycling, in time order (each
    moved by up to +-jitter_ms)."""
    now_us = int(time.time() * 1e6)
    span = max(rows // 100, 1) * 1000  # 100k rows/s of event time
    ids = pa.array([f"m{i}" for i in range(keys)])
    out = []
    for start in range(0, rows, batch_rows):
        n = min(batch_rows, rows - start)
        index = np.arange(start, start + n)
        times = now_us - span + index * span // rows
        if jitter_ms:
            rng = np.random.default_rng(rows + start)
            times = times + (rng.uniform(-jitter_ms, jitter_ms, n) * 1000).astype(np.int64)
        out.append(pa.record_batch({
            "metric_id": ids.take(pa.array(index % keys)),
            "timestamp": pa.array(times, pa.timestamp("us")),
            "value": pa.array(np.random.default_rng(start).random(n) * 100),
        }))
    return out


def bulk(uri, batches):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
        started = time.perf_counter()
        cur.adbc_ingest("metrics", reader, mode="append")
        return sum(b.num_rows for b in batches) / (time.perf_counter() - started)


def stream(uri, batches):
    client = flight.connect(uri)
    started = time.perf_counter()
    writer, reader = client.do_put(flight.FlightDescriptor.for_path("metrics"), batches[0].schema)
    for batch in batches:
        writer.write_batch(batch)
    writer.done_writing()
    writer.close()
    return sum(b.num_rows for b in batches) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--case", action="append", default=[],
                        help="NAME=[BINARY|]ARGS; default: shipped vs --metrics-trailing-window 0")
    args = parser.parse_args()
    cases = args.case or ["shipped=", "no metrics_trailing=--metrics-trailing-window 0"]
    parsed = []
    for case in cases:
        name, _, rest = case.partition("=")
        binary, _, extra = rest.rpartition("|")
        parsed.append((name, binary or None, shlex.split(extra)))
    bulk_batches = metric_batches(args.rows, args.keys, 512 * 1024, args.jitter_ms)
    stream_batches = metric_batches(args.rows, args.keys, 10_000, args.jitter_ms)
    results = {name: {"bulk": [], "stream": []} for name, _, _ in parsed}
    with open("/tmp/hyprstream-metrics-ingest-bench.log", "w") as log:
        for _ in range(args.repeat):
            for name, binary, extra in parsed:
                for mode, batches, run in (("bulk", bulk_batches, bulk),
                                           ("stream", stream_batches, stream)):
                    proc, uri = start_hyprstream(log, *extra, binary=binary)
                    try:
                        results[name][mode].append(run(uri, batches))
                    finally:
                        stop(proc)
    jitter = f", timestamps jittered +-{args.jitter_ms:g} ms" if args.jitter_ms else ""
    print(f"metrics ingest, {args.rows:,} rows, {args.keys:,} keys{jitter}, "
          f"median of {args.repeat}")
    print("| case | bulk rows/s | streaming rows/s |\n|---|---|---|")
    for name, figures in results.items():
        print(f"| {name} | {statistics.median(figures['bulk']):,.0f} | "
              f"{statistics.median(figures['stream']):,.0f} |")


if __name__ == "__main__":
    main()
