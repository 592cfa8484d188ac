"""Load test on loopback: many concurrent clients (one process each, with its own ADBC and
pyarrow.flight connections) mixing point queries, small aggregates, bulk ingest (adbc_ingest)
and streaming ingest (path DoPut, acknowledged per batch) against one hyprstream for a bounded
time. Reports throughput (queries/s, rows/s ingested), p50/p99 latency per operation kind,
errors (target 0) and the server's peak RSS (VmHWM from /proc/<pid>/status); at the end checks
that the server stored exactly the rows it acknowledged.

  .venv/bin/python bench/load_test.py [--clients 64] [--seconds 60] [--json out.json]
      [--hyprstream-bin build/hyprstream] [--db file.duckdb] [--seed 1]

Exit code 0 when there were no errors and the row counts match, 1 otherwise.
"""
import argparse
import json
import multiprocessing as mp
import pathlib
import random
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

KINDS = ("point_query", "aggregate_query", "bulk_ingest", "stream_ingest")
WEIGHTS = (0.4, 0.3, 0.15, 0.15)
POINT_ROWS = 100_000
BULK_ROWS = 1_000
STREAM_ROWS = 500


def client_main(index, uri, seed, ready, start, deadline_s, out):
    """One client process: runs until `deadline_s` after `start` is set, then reports."""
    import adbc_driver_flightsql.dbapi
    import pyarrow as pa
    import pyarrow.flight as flight

    rng = random.Random(seed * 1000 + index)
    lat = {k: [] for k in KINDS}
    rows = {"bulk_ingest": 0, "stream_ingest": 0}
    errors = []
    schema = pa.schema([("id", pa.int64()), ("k", pa.string()), ("v", pa.float64())])
    next_id = index << 40

    def batch(n):
        nonlocal next_id
        ids = pa.array(range(next_id, next_id + n), pa.int64())
        next_id += n
        return pa.record_batch([ids, pa.array([f"k{i % 16}" for i in range(n)]),
                                pa.array([rng.random() for _ in range(n)])], schema=schema)

    conn = adbc_driver_flightsql.dbapi.connect(uri, autocommit=True)
    cur = conn.cursor()
    client = flight.connect(uri)
    writer, acks = client.do_put(flight.FlightDescriptor.for_path("lt_stream"), schema)
    ready.put(index)
    start.wait()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        t0 = time.perf_counter()
        try:
            if kind == "point_query":
                key = rng.randrange(POINT_ROWS)
                cur.execute("SELECT v FROM lt_points WHERE id = ?", parameters=(key,))
                if len(cur.fetchall()) != 1:
                    raise AssertionError(f"point query for id {key} did not return one row")
            elif kind == "aggregate_query":
                lo = rng.randrange(POINT_ROWS - 1000)
                cur.execute("SELECT k, count(*), avg(v) FROM lt_points "
                            "WHERE id BETWEEN ? AND ? GROUP BY k", parameters=(lo, lo + 999))
                if sum(r[1] for r in cur.fetchall()) != 1000:
                    raise AssertionError("aggregate over 1000 ids did not count 1000")
            elif kind == "bulk_ingest":
                n = cur.adbc_ingest("lt_bulk", pa.Table.from_batches([batch(BULK_ROWS)]),
                                    mode="append")
                if n != BULK_ROWS:
                    raise AssertionError(f"bulk ingest acknowledged {n} rows")
                rows[kind] += n
            else:
                writer.write_batch(batch(STREAM_ROWS))
                ack = json.loads(acks.read().to_pybytes())
                if ack["rows"] != STREAM_ROWS:
                    raise AssertionError(f"stream ack {ack}")
                rows[kind] += STREAM_ROWS
        except Exception as e:  # reported, counted; the run goes on
            errors.append(f"{kind}: {type(e).__name__}: {str(e)[:300]}")
            if kind == "stream_ingest":  # the stream is gone: open a new one
                try:
                    writer.close()
                except Exception:
                    pass
                writer, acks = client.do_put(flight.FlightDescriptor.for_path("lt_stream"),
                                             schema)
            continue
        lat[kind].append(time.perf_counter() - t0)
    try:
        writer.close()
    except Exception as e:
        errors.append(f"stream close: {e}")
    client.close()
    conn.close()
    out.put({"lat": lat, "rows": rows, "errors": errors})


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def vm_status(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def setup(uri):
    import adbc_driver_flightsql.dbapi
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE lt_points AS SELECT range AS id, 'k' || (range % 16) AS k, "
                    f"random() AS v FROM range({POINT_ROWS})")
        cur.execute("CREATE TABLE lt_bulk (id BIGINT, k VARCHAR, v DOUBLE)")
        cur.execute("CREATE TABLE lt_stream (id BIGINT, k VARCHAR, v DOUBLE)")


def stored(uri):
    import adbc_driver_flightsql.dbapi
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        out = {}
        for kind, table in (("bulk_ingest", "lt_bulk"), ("stream_ingest", "lt_stream")):
            cur.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}")
            out[kind] = cur.fetchall()[0]
        return out


def run(args):
    import bench_server

    tmp = tempfile.TemporaryDirectory(prefix="hyprstream-load-")
    server_args = ["--engine-connection", args.db] if args.db else []
    with open(pathlib.Path(tmp.name) / "server.log", "wb") as log:
        proc, uri = bench_server.start_hyprstream(log, *server_args, binary=args.hyprstream_bin)
        try:
            setup(uri)
            ctx = mp.get_context("spawn")
            ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
            clients = [ctx.Process(target=client_main,
                                   args=(i, uri, args.seed, ready, start, args.seconds, out))
                       for i in range(args.clients)]
            for c in clients:
                c.start()
            for _ in clients:  # every client imported and connected: start them together
                ready.get(timeout=300)
            rss_before = vm_status(proc.pid, "VmRSS")
            t0 = time.monotonic()
            start.set()
            results = [out.get(timeout=args.seconds + 300) for _ in clients]
            elapsed = time.monotonic() - t0
            for c in clients:
                c.join(60)
            peak = vm_status(proc.pid, "VmHWM")
            counts = stored(uri)
        finally:
            bench_server.stop(proc)
            server_log = (pathlib.Path(tmp.name) / "server.log").read_text(errors="replace")

    lat = {k: [x for r in results for x in r["lat"][k]] for k in KINDS}
    rows = {k: sum(r["rows"][k] for r in results) for k in ("bulk_ingest", "stream_ingest")}
    errors = [e for r in results for e in r["errors"]]
    mismatches = [f"{k}: acknowledged {rows[k]} rows, stored {counts[k][0]} "
                  f"({counts[k][1]} distinct ids)"
                  for k in rows if not (counts[k][0] == counts[k][1] == rows[k])]
    queries = len(lat["point_query"]) + len(lat["aggregate_query"])
    report = {
        "clients": args.clients, "seconds": round(elapsed, 2),
        "queries_per_s": round(queries / elapsed, 1),
        "ingest_rows_per_s": round(sum(rows.values()) / elapsed, 1),
        "ops": {k: len(v) for k, v in lat.items()},
        "p50_ms": {k: round(1000 * percentile(v, 0.5), 2) if v else None for k, v in lat.items()},
        "p99_ms": {k: round(1000 * percentile(v, 0.99), 2) if v else None for k, v in lat.items()},
        "rows_ingested": rows,
        "errors": len(errors) + len(mismatches),
        "error_samples": (mismatches + errors)[:10],
        "server_rss_before_mib": round((rss_before or 0) / 2**20, 1),
        "server_peak_rss_mib": round((peak or 0) / 2**20, 1),
    }
    if report["errors"]:
        report["server_log_tail"] = server_log[-3000:]
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="database file (default: in memory)")
    parser.add_argument("--hyprstream-bin", default=None)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        pathlib.Path(args.json).write_text(text)
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
