"""The six workloads of bench/run, each written once against the System interface
(systems.py). A workload takes (system, ctx) and returns a dict of figures for that system;
ctx carries the sizes (Sizes), the progress printer and per-system state. Single-threaded
except the throughput workload, which runs one connection per client thread."""
import json
import os
import random
import subprocess
import threading
import time
from dataclasses import dataclass

from bench_data import SEED, last_bucket_start_us, metric_rows, wide_checksum
from bench_util import best_of, median, ms, percentile
from systems import wait_visible


@dataclass
class Sizes:
    points: int              # rows of the point-query table (with a primary key)
    point_samples: int       # timed point queries
    clients: tuple           # concurrent clients for the throughput workload
    seconds_per_level: float
    wide_rows: int           # large-result rows
    bulk_rows: int           # bulk-ingest rows
    bulk_rows_slow: int      # bulk-ingest rows for systems that insert row by row (arrow-go)
    stream_batches: int      # 1k-row batches for streaming throughput
    latency_batches: int     # batches for ingest-to-visible latency
    batch_rows: int
    window_rows: int
    window_keys: int
    repeats: int
    window_repeats: int


SIZES = {
    "full": Sizes(1_000_000, 2000, (1, 8, 64), 5.0, 10_000_000, 10_000_000, 200_000, 1000, 200,
                  1000, 10_000_000, 100_000, 3, 50),
    "quick": Sizes(100_000, 300, (1, 8, 64), 1.0, 1_000_000, 1_000_000, 20_000, 100, 30,
                   1000, 1_000_000, 10_000, 2, 10),
    "tiny": Sizes(2_000, 20, (1, 4), 0.2, 5_000, 5_000, 1_000, 4, 3, 1000, 5_000, 100, 1, 2),
}


class CpuMeter:
    """CPU seconds used by this process (every thread: the client and its drivers) and by
    the system's server process, if it has one, between construction and stop()."""

    def __init__(self, system):
        self.system = system
        self.client, self.server = time.process_time(), system.server_cpu_seconds()

    def stop(self, per=1, unit=1.0, prefix=""):
        """{prefix}client_cpu / {prefix}server_cpu, divided by `per`, times `unit`."""
        out = {f"{prefix}client_cpu": round((time.process_time() - self.client) / per * unit, 3)}
        if self.server is not None:
            used = self.system.server_cpu_seconds() - self.server
            out[f"{prefix}server_cpu"] = round(used / per * unit, 3)
        return out


def slow_loader(system):
    return system.name == "arrow-go"


def point_sql(system):
    return f"SELECT id, value, label FROM points WHERE id = {system.placeholder(1)}"


def ensure_points(system, ctx):
    if "points" not in ctx.state(system):
        with system.connect() as conn:
            system.create_wide(conn.cursor(), "points", ctx.sizes.points, primary_key=True)
        ctx.state(system)["points"] = True


def point_query(system, ctx):
    """Workload 1: SELECT ... WHERE id = ? round trip, one client, prepared and re-executed.
    On a Flight SQL server, also the same queries from the floor client (floor_point_query)."""
    ensure_points(system, ctx)
    rng = random.Random(SEED)
    n, sql = ctx.sizes.point_samples, point_sql(system)
    samples = []
    with system.connect() as conn:
        cur = conn.cursor()
        for _ in range(min(50, n)):  # warm up: connection, prepared statement, caches
            system.query(cur, sql, (rng.randrange(ctx.sizes.points),))
        cpu = CpuMeter(system)
        for k in range(n):
            key = rng.randrange(ctx.sizes.points)
            t = time.perf_counter()
            got = system.query(cur, sql, (key,))
            samples.append(time.perf_counter() - t)
            assert got.num_rows == 1 and got.column(0)[0].as_py() == key, (system.name, key)
            ctx.progress.tick(k + 1, n)
        cpu_ms = cpu.stop(per=n, unit=1000)
    out = {"p50_ms": ms(median(samples)), "p95_ms": ms(percentile(samples, 95)),
           "p99_ms": ms(percentile(samples, 99)), "samples": n,
           **{f"{k}_ms_per_query": v for k, v in cpu_ms.items()}}
    if system.speaks_flight_sql:
        try:
            out["floor"] = floor_point_query(system, ctx)
        except Exception as e:  # the ADBC figures stand on their own
            out["floor"] = {"error": f"{type(e).__name__}: {e}"}
    return out


def floor_point_query(system, ctx):
    """The point queries of point_query from bench/floor_client.cc (Arrow's C++ Flight client,
    no ADBC driver): the same SQL and counts, keys from the same range, the same three calls
    per query (DoPut of the parameter, GetFlightInfo, DoGet). Its --sync pauses let the
    server's CPU be metered over the timed queries alone; the client's CPU is its own."""
    binary, n = ctx.floor_client, ctx.sizes.point_samples
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError(f"no floor client at {binary} (build target floor_client)")
    ctx.progress.note("floor client")
    args = [binary, "--uri", system.uri, "--sql", point_sql(system),
            "--keys", str(ctx.sizes.points), "--queries", str(n), "--warmup", str(min(50, n)),
            "--seed", str(SEED), "--sync"]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            line, server = "", None
            if proc.stdout.readline():  # {"ready": true}: prepared and warmed up
                before = system.server_cpu_seconds()
                proc.stdin.write("go\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if line and before is not None:
                    server = system.server_cpu_seconds() - before
            stderr = proc.communicate(timeout=60)[1]  # closing stdin lets it close and exit
        except Exception:
            proc.kill()
            raise
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"floor client exited with {proc.returncode}: {stderr.strip()}")
    got = json.loads(line)
    assert got["samples"] == n and len(got["latencies_ms"]) == n, (system.name, got["samples"])
    out = {k: round(got[k], 3) for k in ("p50_ms", "p95_ms", "p99_ms", "client_cpu_ms_per_query")}
    out["samples"] = n
    if server is not None:
        out["server_cpu_ms_per_query"] = round(server / n * 1000, 3)
    return out


def throughput(system, ctx):
    """Workload 2: point queries per second with 1, 8, 64 client threads, one connection
    each, for a fixed time per level; and the client and server CPU per query at each."""
    ensure_points(system, ctx)
    out = {}
    for clients in ctx.sizes.clients:
        ctx.progress.note(f"{clients} clients")
        qps, cpu_ms = _run_clients(system, ctx, clients)
        out[f"qps_{clients}"] = round(qps)
        out.update({f"{k}_ms_per_query_{clients}": v for k, v in cpu_ms.items()})
    return out


def _run_clients(system, ctx, clients):
    sql, keys, seconds = point_sql(system), ctx.sizes.points, ctx.sizes.seconds_per_level
    ready = threading.Barrier(clients + 1)
    finished = threading.Barrier(clients + 1)  # every count in, no connection closed yet
    stop = threading.Event()
    counts, errors = [0] * clients, []

    def client(slot):
        try:
            rng = random.Random(SEED + slot)
            with system.connect() as conn:
                cur = conn.cursor()
                system.query(cur, sql, (0,))  # prepare before the clock starts
                ready.wait()
                n = 0
                while not stop.is_set():
                    system.query(cur, sql, (rng.randrange(keys),))
                    n += 1
                counts[slot] = n
                finished.wait()
        except Exception as e:  # reported after the level, not swallowed
            errors.append(e)
            ready.abort()
            finished.abort()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    ready.wait(timeout=120)
    cpu = CpuMeter(system)
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    try:
        finished.wait(timeout=120)
    except threading.BrokenBarrierError:
        pass  # a client failed: its error is raised below
    elapsed = time.perf_counter() - start
    cpu_ms = cpu.stop(per=max(1, sum(counts)), unit=1000)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(counts) / elapsed, cpu_ms


def large_result(system, ctx):
    """Workload 3: stream a (BIGINT, DOUBLE, VARCHAR) table to the client."""
    rows = ctx.sizes.wide_rows
    ctx.progress.note(f"generating {rows:,} rows")
    with system.connect() as conn:
        cur = conn.cursor()
        system.create_wide(cur, "wide", rows)
        check = system.query(cur, "SELECT count(*), sum(id) FROM wide").to_pylist()[0]
        assert tuple(int(v) for v in check.values()) == wide_checksum(rows), (system.name, check)
        attempt = [0]

        def fetch():
            attempt[0] += 1
            ctx.progress.note(f"repeat {attempt[0]}/{ctx.sizes.repeats}")
            got = nbytes = 0
            for batch in system.stream(cur, "SELECT id, value, label FROM wide"):
                got += batch.num_rows
                nbytes += batch.nbytes
            return got, nbytes

        cpu = CpuMeter(system)
        seconds, (got, nbytes) = best_of(ctx.sizes.repeats, fetch)
        cpu_s = cpu.stop(per=ctx.sizes.repeats)
        assert got == rows, (system.name, got)
        system.execute(cur, "DROP TABLE wide")
    return {"rows_per_s": round(rows / seconds), "mb_per_s": round(nbytes / seconds / 1e6, 1),
            "rows": rows, "arrow_bytes": nbytes, "seconds": round(seconds, 3),
            **{f"{k}_s": v for k, v in cpu_s.items()}}


def bulk_ingest(system, ctx):
    """Workload 4: bulk load narrow metric rows into an existing table."""
    rows = ctx.sizes.bulk_rows_slow if slow_loader(system) else ctx.sizes.bulk_rows
    data = system.adapt(ctx.metric_data(rows))
    with system.connect() as conn:
        cur = conn.cursor()
        attempt = [0]

        def fresh_table():
            attempt[0] += 1
            ctx.progress.note(f"repeat {attempt[0]}/{ctx.sizes.repeats}, {rows:,} rows")
            system.create_metrics(cur, "bulk")

        cpu = CpuMeter(system)  # the untimed DROP/CREATE are a rounding error here
        seconds, _ = best_of(ctx.sizes.repeats, lambda: system.bulk_ingest(conn, "bulk", data),
                             before=fresh_table)
        cpu_s = cpu.stop(per=ctx.sizes.repeats)
        count = system.query(cur, "SELECT count(*) FROM bulk").column(0)[0].as_py()
        assert count == rows, (system.name, count)
        system.execute(cur, "DROP TABLE bulk")
    return {"rows_per_s": round(rows / seconds), "rows": rows, "seconds": round(seconds, 3),
            **{f"{k}_s": v for k, v in cpu_s.items()}, "path": system.bulk_path}


def streaming_ingest(system, ctx):
    """Workload 5: 1k-row batches over one long-lived stream (or the peer's closest
    equivalent): rows/s from the first send until a query on another connection sees the
    last row; then ingest-to-visible latency of single batches: send, wait for the commit
    (hyprstream's ack; the peers' ingest call returns), query until the rows are seen."""
    s = ctx.sizes
    batch_rows, total = s.batch_rows, s.stream_batches + s.latency_batches
    data = system.adapt(metric_rows(total * batch_rows, ctx.sizes.window_keys, late=False))
    batches = data.to_batches(max_chunksize=batch_rows)
    last_ts = [_last_time_us(b) for b in batches]
    with system.connect() as conn, system.connect() as reader_conn:
        cur, reader = conn.cursor(), reader_conn.cursor()
        system.create_metrics(cur, "stream")
        system.index_metrics(cur, "stream")
        stream = system.open_stream(conn, "stream", data.schema)
        try:
            start = time.perf_counter()
            for k in range(s.stream_batches):
                stream.send(batches[k])
                ctx.progress.tick(k + 1, total)
            stream.flush()
            visible = wait_visible(system, reader, "stream", last_ts[s.stream_batches - 1])
            rows_per_s = s.stream_batches * batch_rows / (visible - start)
            latencies = []
            for k in range(s.stream_batches, total):
                t = time.perf_counter()
                stream.send(batches[k])
                stream.flush()
                latencies.append(wait_visible(system, reader, "stream", last_ts[k]) - t)
                ctx.progress.tick(k + 1, total)
        finally:
            stream.close()
        count = system.query(cur, "SELECT count(*) FROM stream").column(0)[0].as_py()
        assert count == total * batch_rows, (system.name, count)
        system.execute(cur, "DROP TABLE stream")
    return {"rows_per_s": round(rows_per_s), "visible_p50_ms": ms(median(latencies)),
            "visible_p99_ms": ms(percentile(latencies, 99)), "path": system.stream_path}


def _last_time_us(batch):
    ts = batch.column(batch.schema.get_field_index("timestamp"))
    return ts.cast("int64")[-1].as_py()


def window_query(system, ctx):
    """Workload 6: the current 5m aggregates (count, sum, avg, min, max of value) for every
    key. hyprstream reads its maintained window; every system (hyprstream too) also
    computes it with GROUP BY over the raw rows of the newest 5m bucket."""
    s = ctx.sizes
    rows = s.window_rows
    table = "metrics" if system.has_windows else "wmetrics"
    bucket = system.time_literal(last_bucket_start_us(rows))
    group_by = (f"SELECT metric_id, count(value), sum(value), avg(value), min(value), "
                f'max(value) FROM {table} WHERE "timestamp" >= {bucket} GROUP BY metric_id')
    out = {"rows": rows}
    with system.connect() as conn:
        cur = conn.cursor()
        if table != "metrics":
            system.create_metrics(cur, table)
        ctx.progress.note(f"loading {rows:,} rows, {s.window_keys:,} keys")
        system.load_metrics(conn, table, rows, s.window_keys, ctx.metric_data)
        if table != "metrics":  # hyprstream's metrics table is not altered while it has windows
            system.index_metrics(cur, table)
        if table == "metrics":
            sql = "SELECT * FROM hyprstream_window('metrics', width := '5m', current := 'true')"
            samples, cpu = _timed_query(system, cur, sql, s.window_repeats, ctx, "window read")
            result = system.query(cur, sql)
            out.update(window_p50_ms=ms(median(samples)), window_keys=result.num_rows,
                       window_samples=int(sum(result.column("value_count").to_pylist())),
                       **{f"window_{k}_ms": v for k, v in cpu.items()})
        samples, cpu = _timed_query(system, cur, group_by, max(2, s.window_repeats // 10), ctx,
                                    "GROUP BY")
        result = system.query(cur, group_by)
        out.update(**{f"group_by_{k}_ms": v for k, v in cpu.items()})
        out.update(group_by_p50_ms=ms(median(samples)), group_by_keys=result.num_rows,
                   group_by_samples=int(sum(result.column(1).to_pylist())),
                   group_by_value_sum=round(sum(result.column(2).to_pylist()), 2))
    return out


def _timed_query(system, cur, sql, repeats, ctx, what):
    """Wall time of each of `repeats` runs of `sql` (after one warm-up) and the CPU ms per
    run in the client and server processes (CpuMeter)."""
    system.query(cur, sql)  # warm up
    samples = []
    cpu = CpuMeter(system)
    for k in range(repeats):
        ctx.progress.note(f"{what} {k + 1}/{repeats}")
        t = time.perf_counter()
        system.query(cur, sql)
        samples.append(time.perf_counter() - t)
    return samples, cpu.stop(per=repeats, unit=1000)


WORKLOADS = {
    "point_query": ("1. point query round trip", point_query),
    "throughput": ("2. small-query throughput", throughput),
    "large_result": ("3. large result", large_result),
    "bulk_ingest": ("4. bulk ingest", bulk_ingest),
    "streaming_ingest": ("5. streaming ingest", streaming_ingest),
    "window_query": ("6. windowed aggregates", window_query),
}
