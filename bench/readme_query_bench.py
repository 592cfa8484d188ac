"""The README query answered from window state versus computed (issue 15's proof): time and
server memory that depend on keys, not rows.

For each (rows, keys) of the grid a fresh hyprstream (embedded DuckDB) gets `rows` metrics
rows spread evenly over the --span minutes before the ingest starts (default 45, so every row
is still in the last hour while it is measured), in time order, keys cycling (row i is
'm<i % keys>'), value ((i * 7919) & 65535) / 655.36, by adbc_ingest in --batch-rows batches
(512k: the ADBC driver sends gRPC messages of at most 16 MiB). Then, over ADBC (one
connection, each text re-executed, so the driver reuses its prepared statement), p50/p99 and
CPU per query of:

  readme          the README query, answered from the built-in `metrics_trailing` windows;
  readme_engine   the same question computed by DuckDB in the server (`AND metric_id IS NOT
                  NULL` keeps the rewriter away);
  trailing        SELECT metric_id, count(*), avg(value), max(value) ... WHERE timestamp >
                  now() - INTERVAL '30 minutes' GROUP BY metric_id, from windows;
  trailing_engine its engine counterpart;
  duckdb          (unless --no-inproc) the README query verbatim in DuckDB in this process
                  over the same rows (value_running_window_avg is a copy of value there: the
                  server computes that column on ingest; the query's work is the same);
  duckdb_cast     the same with NOW() cast to TIMESTAMP: DuckDB at its best (verbatim, the
                  TIMESTAMP >= TIMESTAMPTZ comparison converts every row through ICU).

each idle and again while a writer process streams rows stamped now (same keys) through one
DoPut in --writer-batch-rows batches as fast as the server takes them. The writer's rows/s
during each query's samples is reported beside it, and the table's rows before and after
them: the writer's rows stay, so the table (the engine's scans with it) and the server's
memory grow at its rate for as long as the phase runs.

Window answers get --samples runs after 2 warm-ups; computed answers (b, c's engine, d)
--slow-samples after --slow-warmups (1), stopping once --slow-budget seconds have gone (at
least --min-slow-samples, default 3: their p99 is then the maximum). CPU per query is the
server's (for the in-process DuckDB, this process's; under the writer the server's includes
the writer's ingest, so only the idle figure is printed).

Which executions were answered from window state is counted from the server's debug log
("answered from the maintained windows of ..."): every execution of readme/trailing must be,
none of the engine's. Before timing, each config checks the windows' answers against the
engine's with the same literal bound (no writer running): same metric_ids and counts,
averages within 1e-9 relative, max equal. Also reported: ingest rows/s, server VmRSS/VmHWM
after ingest and the definitions' open state.

Usage:
  .venv/bin/python bench/readme_query_bench.py [--quick] [--rows 10M,100M] [--keys 1k,5k,100k]
      [--samples 30] [--slow-samples 10] [--slow-budget 20] [--min-slow-samples 3]
      [--slow-warmups 1] [--span 45] [--batch-rows 524288] [--writer-batch-rows 10000]
      [--no-inproc] [--no-writer] [--hyprstream-bin PATH]
      [--server-args "--engine-connection {dir}/rq.duckdb"] [--json FILE]

Sizes take k/M suffixes. --quick: 1M rows, keys 1k,5k, 20/5 samples. Measured on 2 shared
cores (load 7-9): --quick about 1 minute; 10M rows x 1k,5k,100k keys 11.6 minutes (each
config: ingest ~15 s at ~700k rows/s, server RSS 1-2 GB, the writer phase adding ~25M rows);
100M rows x 5k keys with --no-inproc --slow-budget 5 --min-slow-samples 1 --slow-warmups 0
3.2 minutes (ingest 98 s at ~1M rows/s, server RSS 9.1 GB, HWM 11.5 GB; the trailing
query's engine answer takes 25-45 s there, so at the default settings a 100M-row config takes
~10 minutes and the default grid about an hour). The server needs about 100 bytes per
stored row (10M rows: 1 GB RSS), and the in-process DuckDB its own copy (--no-inproc skips
it): the default grid needs ~15 GB at its 100M-row configs, plus what the writer adds.
HYPRSTREAM_BIN or --hyprstream-bin picks the binary (default build/hyprstream).
"""
import argparse
import json
import multiprocessing
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

import adbc_driver_flightsql.dbapi
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_server import ROOT, start_hyprstream, stop  # noqa: E402
from bench_util import median, ms, percentile, process_cpu_seconds, resident_mb  # noqa: E402
from systems import DoPutStream  # noqa: E402

README_QUERY = ("SELECT metric_id, COUNT(*) AS samples, AVG(value_running_window_avg) AS avg_value "
                "FROM metrics WHERE timestamp >= NOW() - INTERVAL '1 hour' GROUP BY metric_id "
                "ORDER BY avg_value DESC")
TRAILING_QUERY = ("SELECT metric_id, count(*), avg(value), max(value) FROM metrics "
                  "WHERE timestamp > now() - INTERVAL '30 minutes' GROUP BY metric_id")
NOT_REWRITTEN = "AND metric_id IS NOT NULL GROUP BY"  # a second conjunct: the engine computes
QUERIES = {  # name: (SQL, answered from windows, slow)
    "readme": (README_QUERY, True, False),
    "readme_engine": (README_QUERY.replace("GROUP BY", NOT_REWRITTEN), False, True),
    "trailing": (TRAILING_QUERY, True, False),
    "trailing_engine": (TRAILING_QUERY.replace("GROUP BY", NOT_REWRITTEN), False, True),
}
LABELS = {
    "readme": "(a) README query, from windows",
    "readme_engine": "(b) README query, DuckDB in the server",
    "trailing": "(c) trailing 30m GROUP BY, from windows",
    "trailing_engine": "(c) trailing 30m GROUP BY, DuckDB in the server",
    "duckdb": "(d) README query, DuckDB in-process",
    "duckdb_cast": "(d) same, NOW() cast to TIMESTAMP, DuckDB in-process",
}
# DuckDB in this process: the README query verbatim, and with NOW() cast to TIMESTAMP like
# the column (TIMESTAMP >= TIMESTAMPTZ converts every row's time through ICU; hyprstream's
# engine makes that cast itself where it is exact, see src/sql/clock_bounds.h, but not when
# the select list has an unaliased expression, as the trailing query's count(*) is).
INPROC = {"duckdb": README_QUERY,
          "duckdb_cast": README_QUERY.replace("NOW()", "CAST(NOW() AS TIMESTAMP)")}
ANSWERED = "answered from the maintained windows of 'metrics_trailing'"
FELL_BACK = "no longer answers exactly: the engine runs the query"


def note(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def size(text):
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# --- data -----------------------------------------------------------------------------------
class Keys:
    """metric_id 'm<k>' of row i is k = i % keys: taken from one array of the key strings."""

    def __init__(self, keys):
        self.keys = keys
        self.names = pa.array([f"m{k}" for k in range(keys)], pa.string())

    def batch(self, first, count, ts_us):
        """Rows first .. first + count with event times `ts_us` (int64 epoch us)."""
        i = np.arange(first, first + count, dtype=np.int64)
        return pa.record_batch({
            "metric_id": self.names.take(pa.array(i % self.keys)),
            "timestamp": pa.array(ts_us, pa.timestamp("us")),
            "value": pa.array(((i * 7919) & 65535) / 655.36)})


def history(rows, keys, start_us, span_us, batch_rows):
    """The ingested rows, in time order: row i at start_us + i * span_us // rows."""
    k = Keys(keys)
    for first in range(0, rows, batch_rows):
        count = min(batch_rows, rows - first)
        i = np.arange(first, first + count, dtype=np.int64)
        yield k.batch(first, count, start_us + i * span_us // rows)


def history_reader(rows, keys, start_us, span_us, batch_rows):
    schema = Keys(1).batch(0, 1, np.zeros(1, np.int64)).schema
    return pa.RecordBatchReader.from_batches(
        schema, history(rows, keys, start_us, span_us, batch_rows))


# --- the writer -----------------------------------------------------------------------------
def writer_main(uri, keys, batch_rows, sent, ready, stop_event):
    """A separate process: rows stamped now (1 us apart, never going back), keys cycling from
    where the history left off, through one DoPut as fast as the server acks; `sent` counts
    the rows written."""
    k = Keys(keys)
    first = 0
    last_us = 0
    stream = None
    while not stop_event.is_set():
        now_us = max(int(time.time() * 1e6), last_us + batch_rows)
        batch = k.batch(first, batch_rows, np.arange(now_us - batch_rows + 1, now_us + 1,
                                                     dtype=np.int64))
        if stream is None:
            stream = DoPutStream(uri, "metrics", batch.schema)
        stream.send(batch)
        first += batch_rows
        last_us = now_us
        with sent.get_lock():
            sent.value += batch_rows
        if first == batch_rows * (DoPutStream.MAX_UNACKED + 2):
            ready.set()  # acks flowing
    if stream is not None:
        stream.close()


class Writer:
    def __init__(self, uri, keys, batch_rows):
        ctx = multiprocessing.get_context("spawn")  # no fork of this process's gRPC/Go threads
        self.sent = ctx.Value("q", 0)
        self.ready, self.stop_event = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(target=writer_main, daemon=True,
                                args=(uri, keys, batch_rows, self.sent, self.ready,
                                      self.stop_event))

    def __enter__(self):
        self.proc.start()
        if not self.ready.wait(60):
            self.stop_event.set()
            raise RuntimeError("the writer did not get going in 60 s")
        time.sleep(1)
        self.t0, self.rows0 = time.perf_counter(), self.sent.value
        return self

    def mark(self):
        return time.perf_counter(), self.sent.value

    def __exit__(self, *exc):
        self.t1, self.rows1 = self.mark()
        self.stop_event.set()
        self.proc.join(60)
        if self.proc.is_alive():
            self.proc.kill()
        return False

    @property
    def rows_per_s(self):
        return (self.rows1 - self.rows0) / (self.t1 - self.t0)


# --- measuring ------------------------------------------------------------------------------
class Log:
    """The server's debug log: how many executions were answered from window state."""

    def __init__(self, path):
        self.path = path

    def counts(self):
        text = pathlib.Path(self.path).read_text(errors="replace")
        return text.count(ANSWERED), text.count(FELL_BACK)


def measure(run, samples, cpu_pid, log, writer=None, warmups=2, budget=None, table_rows=None,
            at_least=3):
    """p50/p99 of `samples` calls of run() after `warmups` (fewer, but at least `at_least`,
    once `budget` seconds have gone), process cpu_pid's CPU per call, the executions answered from
    windows, (with a writer) its rows/s meanwhile and (table_rows()) the table's rows before
    and after. A failed call is counted and not timed."""
    errors, first_error = 0, None
    for _ in range(warmups):
        try:
            run()
        except Exception:  # counted below if it keeps failing
            pass
    rows0 = table_rows() if table_rows else None
    answered0, fell0 = log.counts()
    cpu0 = process_cpu_seconds(cpu_pid)
    mark0 = writer.mark() if writer else None
    out = []
    began = time.perf_counter()
    for n in range(samples):
        if budget is not None and n >= at_least and time.perf_counter() - began > budget:
            break
        t = time.perf_counter()
        try:
            run()
        except Exception as e:  # e.g. a trailing read refused while rows keep arriving
            if "cancel" in str(e).lower():  # Ctrl-C: ADBC cancels the call
                raise
            errors += 1
            first_error = first_error or str(e)[:300]
            continue
        out.append(time.perf_counter() - t)
    cpu = process_cpu_seconds(cpu_pid) - cpu0
    answered, fell = log.counts()
    got = {"samples": len(out), "errors": errors,
           "p50_ms": ms(median(out)) if out else None,
           "p99_ms": ms(percentile(out, 99)) if out else None,
           "cpu_ms_per_query": ms(cpu / max(1, len(out) + errors)),
           "from_windows": answered - answered0, "fell_back": fell - fell0}
    if first_error:
        got["first_error"] = first_error
    if table_rows:
        got["table_rows"] = [rows0, table_rows()]
    if writer:
        t1, rows1 = writer.mark()
        got["writer_rows_per_s"] = round((rows1 - mark0[1]) / (t1 - mark0[0]))
    return got


def fetch(cur, sql):
    cur.execute(sql)
    return cur.fetch_arrow_table()


def timestamp_literal(epoch_us):
    seconds, micros = divmod(epoch_us, 1_000_000)
    return f"TIMESTAMP '{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{micros:06d}'"


def same_answer(windows, engine, columns, what):
    """Windows' and engine's answers agree: same keys, counts equal, averages within 1e-9
    relative, other values equal. Returns a problem's description, or None."""
    w = {r["metric_id"]: r for r in windows.to_pylist()}
    e = {r["metric_id"]: r for r in engine.to_pylist()}
    if w.keys() != e.keys():
        return f"{what}: keys differ ({len(w)} vs {len(e)})"
    for key, row in w.items():
        for c in columns:
            a, b = row[c], e[key][c]
            close = abs(a - b) <= 1e-9 * max(abs(a), abs(b)) if isinstance(a, float) else a == b
            if not close:
                return f"{what}: {key}.{c} windows {a!r} vs engine {b!r}"
    return None


def check(cur, log, trailing_column_names):
    """The windows' answers equal the engine's for the same literal bound (no writer)."""
    now_us = int(time.time() * 1e6)
    out = {}
    for name, bound_us, columns in (("readme", now_us - 3_600_000_000, ["samples", "avg_value"]),
                                    ("trailing", now_us - 1_800_000_000,
                                     trailing_column_names)):
        sql, _, _ = QUERIES[name]
        bound = timestamp_literal(bound_us)
        fixed = sql.replace("NOW() - INTERVAL '1 hour'", bound).replace(
            "now() - INTERVAL '30 minutes'", bound)
        answered0, _ = log.counts()
        windows = fetch(cur, fixed)
        answered1, _ = log.counts()
        engine = fetch(cur, fixed.replace("GROUP BY", NOT_REWRITTEN))
        answered2, _ = log.counts()
        problem = same_answer(windows, engine, columns, name)
        if answered1 - answered0 != 1:
            problem = (problem or "") + f" {name}: the windows' query was not answered from them"
        if answered2 != answered1:
            problem = (problem or "") + f" {name}: the engine's query was answered from windows"
        out[name] = {"bound": bound, "keys": windows.num_rows,
                     "rows": sum(windows.column(columns[0]).to_pylist()),
                     "ok": problem is None, "problem": problem}
        if problem:
            note("CHECK FAILED:", problem)
    return out


def open_state(cur):
    got = fetch(cur, "SELECT name, keys, rows, open_bytes FROM hyprstream_windows()")
    return {r["name"]: {"keys": r["keys"], "rows": r["rows"], "open_mb": r["open_bytes"] / 1e6}
            for r in got.to_pylist()}


def inprocess_duckdb(rows, keys, start_us, span_us, batch_rows):
    """DuckDB in this process holding the same rows (value_running_window_avg = value)."""
    import duckdb

    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")  # the server's sessions are UTC too
    db.execute("CREATE TABLE metrics (metric_id VARCHAR, timestamp TIMESTAMP, value DOUBLE, "
               "value_running_window_avg DOUBLE)")
    for batch in history(rows, keys, start_us, span_us, batch_rows):
        src = batch.append_column("value_running_window_avg", batch.column("value"))
        db.register("src", src)
        db.execute("INSERT INTO metrics SELECT * FROM src")
        db.unregister("src")
    return db


def run_config(rows, keys, args):
    res = {"rows": rows, "keys": keys}
    span_us = int(args.span * 60e6)
    with tempfile.NamedTemporaryFile("w", prefix="hyprstream-rq-", suffix=".log") as logf, \
            tempfile.TemporaryDirectory(prefix="hyprstream-rq-") as tmp:
        log = Log(logf.name)
        server_args = shlex.split(args.server_args.replace("{dir}", tmp))
        proc, uri = start_hyprstream(logf, "--log-level", "debug", *server_args,
                                     binary=args.hyprstream_bin)
        db = None
        try:
            start_us = int(time.time() * 1e6) - span_us
            res["first_row_at"] = timestamp_literal(start_us)
            note(f"{rows:,} rows, {keys:,} keys: ingest")
            with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
                cur = conn.cursor()
                t = time.perf_counter()
                cur.adbc_ingest("metrics", history_reader(rows, keys, start_us, span_us,
                                                          args.batch_rows), mode="append")
                seconds = time.perf_counter() - t
                res["ingest"] = {"seconds": round(seconds, 1), "rows_per_s": round(rows / seconds)}
                rss, hwm = resident_mb(proc.pid)
                res["server_rss_mb"], res["server_hwm_mb"] = round(rss, 1), round(hwm, 1)
                res["windows"] = open_state(cur)
                note(f"ingest {rows / seconds:,.0f} rows/s; server RSS {rss:,.0f} MB; "
                     f"metrics_trailing {res['windows']['metrics_trailing']['open_mb']:.1f} MB")
                trailing_cols = [f.name for f in fetch(cur, TRAILING_QUERY).schema][1:]
                res["check"] = check(cur, log, trailing_cols)
                if not args.no_inproc:
                    note("loading the same rows into DuckDB in process")
                    t = time.perf_counter()
                    db = inprocess_duckdb(rows, keys, start_us, span_us, args.batch_rows)
                    res["inproc_load_s"] = round(time.perf_counter() - t, 1)

                def table_rows():
                    return open_state(cur)["metrics_trailing"]["rows"]

                def runs():
                    for name, (sql, _, slow) in QUERIES.items():
                        yield name, (lambda s=sql: fetch(cur, s)), slow
                    if db is not None:
                        for name, sql in INPROC.items():
                            yield name, lambda s=sql: db.execute(s).fetch_arrow_table(), True

                for phase in ("idle", "writer") if not args.no_writer else ("idle",):
                    res[phase] = {}
                    writer = None
                    if phase == "writer":
                        writer = Writer(uri, keys, args.writer_batch_rows)
                    if writer:
                        note("starting the writer")
                        writer.__enter__()
                    try:
                        for name, run, slow in runs():
                            note(f"{phase}: {name}")
                            res[phase][name] = measure(
                                run, args.slow_samples if slow else args.samples,
                                os.getpid() if name in INPROC else proc.pid, log, writer,
                                warmups=args.slow_warmups if slow else 2,
                                budget=args.slow_budget if slow else None,
                                table_rows=table_rows if writer else None,
                                at_least=args.min_slow_samples)
                    finally:
                        if writer:
                            writer.__exit__(None, None, None)
                    if writer:
                        res["writer_total"] = {"rows_per_s": round(writer.rows_per_s),
                                         "rows": writer.rows1 - writer.rows0}
                        note(f"writer: {writer.rows_per_s:,.0f} rows/s")
                # The writer's rows stay: the table (and the engine's scans) grew meanwhile.
                res["windows_end"] = open_state(cur)
                res["server_rss_mb_end"] = round(resident_mb(proc.pid)[0], 1)
        finally:
            if db is not None:
                db.close()
            stop(proc)
    for phase in ("idle", "writer"):
        for name, got in res.get(phase, {}).items():
            expect = QUERIES[name][1] if name in QUERIES else None
            if expect is not None and got["samples"] + got["errors"] > 0:
                wanted = got["samples"] + got["errors"] if expect else 0
                if got["from_windows"] < wanted if expect else got["from_windows"] > 0:
                    note(f"NOTE {phase} {name}: {got['from_windows']} executions from windows, "
                         f"{got['fell_back']} fell back, {got['errors']} errors")
    return res


# --- report ---------------------------------------------------------------------------------
def grown(pair):
    return f"{pair[0] / 1e6:,.1f} -> {pair[1] / 1e6:,.1f}" if pair else ""


def answered(got):
    return f"{got['from_windows']}/{got['samples'] + got['errors']}" if got else ""


def fmt(v, digits=1):
    return "" if v is None else f"{v:,.{digits}f}"


def print_report(results, meta):
    print(f"\nREADME query from windows vs computed: {meta}")
    print("\n| rows | keys | query | idle p50 ms | idle p99 ms | CPU ms/q | "
          "from windows | writer p50 ms | writer p99 ms | writer rows/s | from windows "
          "(writer) | errors (writer) | table rows (writer), M |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for name in r.get("idle", {}):
            i, w = r["idle"][name], r.get("writer", {}).get(name, {})
            print(f"| {r['rows']:,} | {r['keys']:,} | {LABELS[name]} | {fmt(i['p50_ms'], 2)} | "
                  f"{fmt(i['p99_ms'], 2)} | {fmt(i['cpu_ms_per_query'], 1)} | "
                  f"{answered(i)} | "
                  f"{fmt(w.get('p50_ms'), 2)} | {fmt(w.get('p99_ms'), 2)} | "
                  f"{fmt(w.get('writer_rows_per_s'), 0)} | "
                  f"{answered(w)} | "
                  f"{w.get('errors', '')} | {grown(w.get('table_rows'))} |")
    print("\n| rows | keys | ingest rows/s | server RSS MB after ingest (HWM) | metrics_trailing "
          "state MB | README speedup idle (writer) | trailing speedup idle (writer) | "
          "vs in-process DuckDB idle (verbatim / cast) | rows at the end | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def ratio(r, phase, slow, fast):
        p = r.get(phase, {})
        if slow in p and fast in p and p[slow]["p50_ms"] and p[fast]["p50_ms"]:
            return f"{p[slow]['p50_ms'] / p[fast]['p50_ms']:,.0f}x"
        return ""

    for r in results:
        ok = all(c["ok"] for c in r["check"].values())
        print(f"| {r['rows']:,} | {r['keys']:,} | {r['ingest']['rows_per_s']:,} | "
              f"{r['server_rss_mb']:,.0f} ({r['server_hwm_mb']:,.0f}) | "
              f"{r['windows']['metrics_trailing']['open_mb']:,.1f} | "
              f"{ratio(r, 'idle', 'readme_engine', 'readme')} "
              f"({ratio(r, 'writer', 'readme_engine', 'readme')}) | "
              f"{ratio(r, 'idle', 'trailing_engine', 'trailing')} "
              f"({ratio(r, 'writer', 'trailing_engine', 'trailing')}) | "
              f"{ratio(r, 'idle', 'duckdb', 'readme')} / "
              f"{ratio(r, 'idle', 'duckdb_cast', 'readme')} | "
              f"{r['windows_end']['metrics_trailing']['rows']:,} | {'ok' if ok else 'FAILED'} |")
    print("(speedup: p50 of DuckDB in the server / p50 from windows; rows at the end: the "
          "ingested rows plus the writer's)")


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M rows; keys 1k,5k; 20/5 samples")
    parser.add_argument("--rows", help="comma list (default 10M,100M)")
    parser.add_argument("--keys", help="comma list (default 1k,5k,100k)")
    parser.add_argument("--samples", type=int, help="timed runs of window answers (30)")
    parser.add_argument("--slow-samples", type=int, help="timed runs of computed answers (10)")
    parser.add_argument("--slow-budget", type=float, default=20,
                        help="seconds after which a computed answer's sampling stops (at "
                             "least --min-slow-samples; default 20)")
    parser.add_argument("--min-slow-samples", type=int, default=3,
                        help="samples of a computed answer taken whatever the budget (default "
                             "3; 1 keeps 100M-row runs short)")
    parser.add_argument("--slow-warmups", type=int, default=1,
                        help="untimed runs of a computed answer first (default 1)")
    parser.add_argument("--span", type=float, default=45,
                        help="minutes before the ingest the rows are spread over (default 45)")
    parser.add_argument("--batch-rows", type=size, default=1 << 19,
                        help="rows per ingested Arrow batch (default 524288: the ADBC driver "
                             "sends messages of at most 16 MiB)")
    parser.add_argument("--writer-batch-rows", type=size, default=10_000)
    parser.add_argument("--no-inproc", action="store_true",
                        help="skip (d), DuckDB in-process (halves the memory needed)")
    parser.add_argument("--no-writer", action="store_true", help="idle measurements only")
    parser.add_argument("--hyprstream-bin", help="default: $HYPRSTREAM_BIN or build/hyprstream")
    parser.add_argument("--server-args", default="",
                        help='extra server options, e.g. "--engine-connection {dir}/rq.duckdb" '
                             "for a file database: {dir} is a fresh temp dir per config")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    quick = args.quick
    rows = [size(v) for v in (args.rows or ("1M" if quick else "10M,100M")).split(",")]
    keys = [size(v) for v in (args.keys or ("1k,5k" if quick else "1k,5k,100k")).split(",")]
    args.samples = args.samples or (20 if quick else 30)
    args.slow_samples = args.slow_samples or (5 if quick else 10)
    if not args.no_inproc:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            note("no duckdb package in this Python: (d) skipped")
            args.no_inproc = True
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": git_commit(),
            "cpus": os.cpu_count(), "load_before": os.getloadavg(), "rows": rows, "keys": keys,
            "samples": args.samples, "slow_samples": args.slow_samples,
            "slow_budget_s": args.slow_budget, "span_min": args.span,
            "batch_rows": args.batch_rows, "writer_batch_rows": args.writer_batch_rows,
            "server_args": args.server_args, "min_slow_samples": args.min_slow_samples,
            "slow_warmups": args.slow_warmups, "inproc": not args.no_inproc,
            "writer": not args.no_writer}
    results = []
    started = time.perf_counter()
    for r in rows:
        for k in keys:
            results.append(run_config(r, k, args))
            if args.json:  # a partial file survives a later config's failure
                pathlib.Path(args.json).write_text(
                    json.dumps({"meta": meta, "results": results}, indent=1))
    meta["load_after"] = os.getloadavg()
    meta["minutes"] = round((time.perf_counter() - started) / 60, 1)
    print_report(results, meta)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    if not all(c["ok"] for r in results for c in r["check"].values()):
        sys.exit("the windows' answer differed from the engine's (see CHECK FAILED above)")


if __name__ == "__main__":
    main()
