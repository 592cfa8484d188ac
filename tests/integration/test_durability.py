"""Durability of a file-backed server: every write acknowledged to a client survives `kill -9`
at any moment, exactly once, and writes are all-or-nothing.

One test kills the server many times at random points (fixed seed) while four clients write
through every ingest path at once: streaming DoPut (each batch acknowledged with
{"rows","total_rows"}), bulk ingest (ADBC adbc_ingest), SQL INSERT, and the built-in
`metrics` table (streaming DoPut, bulk ingest and INSERT, whose running columns the server
completes in a second step; windows and running state are rebuilt after each crash). After
each restart on the same database file it checks that every acknowledged batch is there once,
that no batch is partly there, and that nothing unknown is there; at the end that the windows
and running columns agree with DuckDB over the stored rows.
"""
import datetime
import json
import random
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight

from conftest import Server
from test_windows import assert_windows_match_group_by, rows

KILLS = 24
SEED = 20261125
BASE = datetime.datetime(2026, 1, 1)
EVENTS = pa.schema([("id", pa.int64()), ("batch", pa.int64()), ("src", pa.string()),
                    ("payload", pa.string())])
METRICS = pa.schema([("metric_id", pa.string()), ("timestamp", pa.timestamp("ms")),
                     ("value", pa.float64())])
CALL = flight.FlightCallOptions(timeout=20)


def assert_metrics_windows_match(cur, minutes):
    """The metrics windows of that width == the GROUP BY of the stored rows (read through the
    server: the embedded DuckDB is the engine)."""
    assert_windows_match_group_by(cur, lambda sql: rows(cur, sql), "metrics", "metrics",
                                  "timestamp", ["metric_id"], datetime.timedelta(minutes=minutes))


class Ledger:
    """What the clients sent and what the server acknowledged, shared by the writer threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_batch = 0
        self.sent = {}        # batch -> rows (events)
        self.acked = set()    # batches
        self.metric_sent = {}    # first timestamp ms -> rows
        self.metric_acked = set()
        self.next_metric_ms = 0

    def new_batch(self, n):
        with self.lock:
            b = self.next_batch
            self.next_batch += 1
            self.sent[b] = n
            return b

    def new_metric_batch(self, n):
        with self.lock:
            start = self.next_metric_ms
            self.next_metric_ms += n * 1000
            self.metric_sent[start] = n
            return start


def events_batch(batch, n, src):
    return pa.record_batch([
        pa.array([batch * 1000 + i for i in range(n)], pa.int64()),
        pa.array([batch] * n, pa.int64()),
        pa.array([src] * n),
        pa.array([f"{src}-{batch}-{i}-" + "x" * (i % 50) for i in range(n)]),
    ], schema=EVENTS)


def metrics_batch(start_ms, n):
    # one row a second, three metrics in turn: time order is the order rows are sent in
    ts = [BASE + datetime.timedelta(milliseconds=start_ms + 1000 * i) for i in range(n)]
    return pa.record_batch([
        pa.array([("cpu", "mem", "disk")[(start_ms // 1000 + i) % 3] for i in range(n)]),
        pa.array(ts, pa.timestamp("ms")),
        pa.array([float((start_ms // 1000 + i) % 97) for i in range(n)]),
    ], schema=METRICS)


def stream_events(uri, ledger, rng, stop):
    with flight.connect(uri) as client:
        writer, acks = client.do_put(flight.FlightDescriptor.for_path("events"), EVENTS,
                                     options=CALL)
        total = 0
        while not stop.is_set():
            n = rng.randint(1, 400)
            b = ledger.new_batch(n)
            writer.write_batch(events_batch(b, n, "stream"))
            total += n
            ack = json.loads(acks.read().to_pybytes())
            assert ack == {"rows": n, "total_rows": total}
            with ledger.lock:
                ledger.acked.add(b)


def bulk_events(uri, ledger, rng, stop):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        while not stop.is_set():
            n = rng.randint(1, 999)
            b = ledger.new_batch(n)
            data = pa.Table.from_batches([events_batch(b, n, "bulk")])
            assert cur.adbc_ingest("events", data, mode="append") == n
            with ledger.lock:
                ledger.acked.add(b)


def insert_events(uri, ledger, rng, stop):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        while not stop.is_set():
            n = rng.randint(1, 60)
            b = ledger.new_batch(n)
            values = ", ".join(f"({b * 1000 + i}, {b}, 'insert', 'i{i}')" for i in range(n))
            cur.execute(f"INSERT INTO events VALUES {values}")
            assert cur.rowcount == n
            with ledger.lock:
                ledger.acked.add(b)


def write_metrics(uri, ledger, rng, stop):
    """Streaming DoPut, bulk ingest and INSERT into `metrics` by turns; one writer, so rows
    arrive in time order."""
    with flight.connect(uri) as client, \
            adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        writer, acks = client.do_put(flight.FlightDescriptor.for_path("metrics"), METRICS,
                                     options=CALL)
        while not stop.is_set():
            n = rng.randint(1, 300)
            start = ledger.new_metric_batch(n)
            batch = metrics_batch(start, n)
            path = rng.random()
            if path < 0.4:
                writer.write_batch(batch)
                assert json.loads(acks.read().to_pybytes())["rows"] == n
            elif path < 0.8:
                assert cur.adbc_ingest("metrics", pa.Table.from_batches([batch]),
                                       mode="append") == n
            else:  # SQL: the running columns are completed after the INSERT commits
                values = ", ".join(f"('{m}', TIMESTAMP '{t}', {v})" for m, t, v in zip(
                    *(batch.column(i).to_pylist() for i in range(3))))
                cur.execute("INSERT INTO metrics (metric_id, timestamp, value) VALUES " + values)
                assert cur.rowcount == n
            with ledger.lock:
                ledger.metric_acked.add(start)


def run_writers(uri, ledger, rng, seconds):
    """Starts the writers, returns (threads, stop event). They end with the server."""
    stop = threading.Event()
    errors = []

    def guarded(fn, seed):
        try:
            fn(uri, ledger, random.Random(seed), stop)
        except Exception as e:  # the server died under it; anything else is checked later
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(fn, rng.random()), daemon=True)
               for fn in (stream_events, bulk_events, insert_events, write_metrics)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    return threads, stop, errors


def kill9(server):
    server.process.kill()
    server.process.wait()
    server._log.close()
    server.process = None


def check_events(cur, ledger):
    got = dict(rows(cur, "SELECT batch, count(*) FROM events GROUP BY batch"))
    with ledger.lock:
        sent, acked = dict(ledger.sent), set(ledger.acked)
    missing = [b for b in acked if got.get(b) != sent[b]]
    assert not missing, f"acknowledged batches lost or partial: {missing[:10]}"
    partial = {b: n for b, n in got.items() if n != sent.get(b)}
    assert not partial, f"batches partly present or never sent: {list(partial.items())[:10]}"
    (n, distinct), = rows(cur, "SELECT count(*), count(DISTINCT id) FROM events")
    assert n == distinct == sum(got.values())
    return sum(got.values())


def check_metrics(cur, ledger):
    with ledger.lock:
        sent, acked = dict(ledger.metric_sent), set(ledger.metric_acked)
    got = {}
    for (ms, ) in rows(cur, "SELECT epoch_ms(timestamp) - epoch_ms(TIMESTAMP '2026-01-01') "
                            "FROM metrics"):
        got.setdefault(ms, 0)
        got[ms] += 1
    assert all(c == 1 for c in got.values()), "a metrics row is stored twice"
    accounted = 0
    for start, n in sent.items():
        present = sum(1 for i in range(n) if start + 1000 * i in got)
        assert present in (0, n), f"metrics batch at {start} ms partly present: {present}/{n}"
        assert start not in acked or present == n, f"acknowledged metrics batch {start} lost"
        accounted += present
    assert accounted == len(got), "metrics rows that no client sent"
    return len(got)


def check_running_columns(cur):
    """The running count/sum of every stored row equals its trailing 5 minutes over the stored
    rows (sent in time order), as DuckDB computes it: (t - 5m, t] at millisecond precision."""
    bad = rows(cur, """
        SELECT count(*) FROM (
          SELECT value_running_window_count AS got_n, value_running_window_sum AS got_s,
                 count(*) OVER w AS n, sum(value) OVER w AS s
          FROM metrics
          WINDOW w AS (PARTITION BY metric_id ORDER BY timestamp
                       RANGE BETWEEN INTERVAL '299999 milliseconds' PRECEDING AND CURRENT ROW))
        WHERE got_n IS NULL OR got_n <> n OR abs(got_s - s) > 1e-6""")
    assert bad == [(0,)]


def test_acknowledged_writes_survive_kill_9(tmp_path):
    path = str(tmp_path / "durable.duckdb")
    rng = random.Random(SEED)
    ledger = Ledger()
    server = Server(tmp_path, "--engine-connection", path).start()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().execute("CREATE TABLE events (id BIGINT, batch BIGINT, src VARCHAR, "
                              "payload VARCHAR)")
    totals = []
    try:
        for kill in range(KILLS):
            threads, stop, errors = run_writers(server.uri, ledger, rng, rng.uniform(0.05, 1.5))
            kill9(server)
            stop.set()
            for t in threads:
                t.join(30)
                assert not t.is_alive(), "a writer hangs after the server died"
            assertion_errors = [e for e in errors if isinstance(e, AssertionError)]
            assert not assertion_errors, assertion_errors
            server = Server(tmp_path, "--engine-connection", path).start()
            with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
                cur = conn.cursor()
                totals.append((check_events(cur, ledger), check_metrics(cur, ledger)))
        assert len(ledger.acked) > KILLS and len(ledger.metric_acked) > KILLS
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            cur = conn.cursor()
            check_running_columns(cur)
            for width in (5, 30, 60):
                assert_metrics_windows_match(cur, width)
            # the server still takes writes after all that, and they are counted once
            cur.adbc_ingest("metrics", pa.Table.from_batches(
                [metrics_batch(ledger.new_metric_batch(50), 50)]), mode="append")
            check_running_columns(cur)
            assert_metrics_windows_match(cur, 5)
    finally:
        server.stop()
    print("rows after each restart (events, metrics):", totals)


def test_metrics_rows_written_around_hyprstream_are_counted_by_windows_not_running_columns(
        tmp_path):
    """Rows hyprstream writes are complete when stored (an INSERT computes the running columns
    before the write, so no crash can leave a row half done). Rows written straight into the
    table by someone else keep NULL running columns: after a restart the windows count them
    (they follow the table), the running state does not, and later writes continue from the
    rows hyprstream wrote."""
    import duckdb

    path = str(tmp_path / "half.duckdb")
    server = Server(tmp_path, "--engine-connection", path).start()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().adbc_ingest("metrics", pa.Table.from_batches([metrics_batch(0, 30)]),
                                  mode="append")
    assert server.stop() == 0
    db = duckdb.connect(path)  # a writer that bypasses hyprstream
    db.register("late", pa.Table.from_batches([metrics_batch(30_000, 30)]))
    db.execute("INSERT INTO metrics (metric_id, timestamp, value) "
               "SELECT metric_id, timestamp, value FROM late")
    db.close()
    server = Server(tmp_path, "--engine-connection", path).start()
    try:
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            cur = conn.cursor()
            assert rows(cur, "SELECT count(*) FROM metrics "
                             "WHERE value_running_window_count IS NULL") == [(30,)]
            cur.execute("INSERT INTO metrics (metric_id, timestamp, value) "
                        "VALUES ('cpu', TIMESTAMP '2026-01-01 00:01:00', 1.0)")
            assert rows(cur, "SELECT count(*) FROM metrics") == [(61,)]
            # Over the rows hyprstream wrote, the running columns are exact.
            cur.execute("CREATE TEMP TABLE written AS SELECT * FROM metrics "
                        "WHERE value_running_window_count IS NOT NULL")
            bad = rows(cur, """
                SELECT count(*) FROM (
                  SELECT value_running_window_count AS got_n, value_running_window_sum AS got_s,
                         count(*) OVER w AS n, sum(value) OVER w AS s
                  FROM written
                  WINDOW w AS (PARTITION BY metric_id ORDER BY timestamp RANGE BETWEEN
                               INTERVAL '299999 milliseconds' PRECEDING AND CURRENT ROW))
                WHERE got_n <> n OR abs(got_s - s) > 1e-6""")
            assert bad == [(0,)]
            assert_metrics_windows_match(cur, 5)
    finally:
        server.stop()
