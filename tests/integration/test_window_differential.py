"""A randomised differential test of the windows layer, on every engine stack (stacks.py).

A seeded workload writes to a table with a window definition (and to the built-in metrics
table) through every write path: bulk ingest, streaming DoPut, INSERT ... VALUES, INSERT ...
SELECT, WITH ... INSERT, prepared INSERTs with executemany, scripts of several statements (one
that fails), DB-API transactions committed and rolled back, SQL BEGIN/COMMIT/ROLLBACK (with a
failing statement before a COMMIT), rows out of order and rows later than the allowed lateness,
sessions holding open transactions while others commit, writers on several threads, rows
without a time, and a server restart in the middle. After each phase every query shape the
windows answer (time_bucket GROUP BYs, tumble()/hop(), `WHERE ts > now() - INTERVAL`
GROUP BYs, hyprstream_window reads) is asked through hyprstream and must equal the same query
computed here over the rows the backend stored, read back from it directly; and the debug log
must show the answers came from window state at least sometimes, so the test cannot pass by
always falling back to the engine.

Time design: every row that is not meant to be late is within a band that moves two minutes
per phase (rows up to three minutes out of order), so with a lateness of ten minutes no such
row is ever late, even after sitting two phases in an open transaction; the late rows are
hours older. Hence a window read equals the GROUP BY of the stored rows without the late rows
that reached the windows since the server started (a restart rebuilds the state from the
stored rows in time order, where nothing is late).
"""
import collections
import concurrent.futures
import datetime
import json
import random

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from stacks import (EPOCH, aggregates, assert_rows_match, connect, hopping, query, sort_key,
                    trailing, tumbling)

SEED = 20261205
MINUTE = datetime.timedelta(minutes=1)
SYMS = ("AAA", "BBB", "CCC", "DDD", "EEE")
METRIC_IDS = ("cpu", "mem")
TICKS = pa.schema([("sym", pa.string()), ("ts", pa.timestamp("us")), ("px", pa.float64()),
                   ("qty", pa.int64())])
METRICS = pa.schema([("metric_id", pa.string()), ("timestamp", pa.timestamp("us")),
                     ("value", pa.float64())])
SERVER_ARGS = ("--log-level", "debug", "--window-lateness", "10m")
TRAILING_MINUTES = 30


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def time_bucket_sql(minutes):
    return (f"SELECT sym, time_bucket(INTERVAL '{minutes} minutes', ts) AS bucket, "
            "count(*) AS n, count(px) AS c, sum(px) AS s, avg(px) AS a, min(px) AS lo, "
            "max(px) AS hi FROM ticks GROUP BY sym, bucket ORDER BY bucket, sym")


TUMBLE_SQL = ("SELECT window_start, window_end, sym, count(*) AS n, sum(px) AS s, min(px) AS lo, "
              "max(px) AS hi FROM tumble('ticks', 'ts', INTERVAL '5 minutes') GROUP BY ALL "
              "ORDER BY window_start, sym")
HOP_SQL = ("SELECT window_start, window_end, sym, count(px) AS c, max(px) AS hi "
           "FROM hop('ticks', 'ts', INTERVAL '1 minute', INTERVAL '5 minutes') GROUP BY ALL "
           "ORDER BY window_start, sym")
TRAILING_SQL = ("SELECT sym, count(*) AS n, count(px) AS c, sum(px) AS s, avg(px) AS a, "
                "min(px) AS lo, max(px) AS hi FROM ticks "
                f"WHERE ts > now() - INTERVAL '{TRAILING_MINUTES} minutes' GROUP BY sym ORDER BY sym")
METRICS_5M_SQL = ("SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) AS bucket, "
                  "count(value) AS c, sum(value) AS s, min(value) AS lo, max(value) AS hi "
                  "FROM metrics GROUP BY metric_id, bucket ORDER BY bucket, metric_id")


def stats(values, *names):
    a = aggregates(values)
    return tuple(len(values) if n == "n" else a[n] for n in names)


def bucket_rows(groups, *names, with_end=None):
    """(key, window_start[, window_end], stats...) ordered by window_start, key; windows
    without a time (rows with a NULL time) last, as SQL orders NULLs."""
    out = []
    for (key, start), values in groups.items():
        end = () if with_end is None else (None if start is None else start + with_end,)
        out.append(((start,) + end + (key,) if with_end else (key, start)) + stats(values, *names))
    if with_end:
        return sorted(out, key=sort_key)
    return sorted(out, key=lambda r: sort_key((r[1], r[0])))


class Differential:
    """The workload and its checks on one stack."""

    def __init__(self, stack):
        self.stack = stack
        self.server = stack.start(*SERVER_ARGS)
        self.rng = random.Random(SEED)
        self.t0 = utcnow() - 40 * MINUTE
        self.phase = 0
        self.qty = 0            # every tick row gets its own qty (> 0): a tag to follow it by
        self.late = set()       # qty of rows that reached the windows late since the last start
        self.batch = 0          # staging batches for INSERT ... SELECT
        self.answered = collections.Counter()  # shape -> executions answered from window state
        self.checks = 0

    # --- rows ---------------------------------------------------------------------------------
    def band_time(self):
        t = self.t0 + self.phase * 2 * MINUTE + datetime.timedelta(
            seconds=self.rng.uniform(0, 120))
        if self.rng.random() < 0.3:  # out of order, within the lateness
            t -= datetime.timedelta(seconds=self.rng.uniform(0, 180))
        return t

    def ticks(self, n, late=False, null_times=False):
        out = []
        for _ in range(n):
            self.qty += 1
            if late:
                t = self.t0 - datetime.timedelta(hours=3, seconds=self.rng.uniform(0, 3600))
                self.late.add(self.qty)
            elif null_times and self.rng.random() < 0.4:
                t = None
            else:
                t = self.band_time()
            px = None if self.rng.random() < 0.05 else round(self.rng.uniform(1, 1000), 3)
            out.append((self.rng.choice(SYMS), t, px, self.qty))
        return out

    def metric_rows(self, n):
        return [(self.rng.choice(METRIC_IDS), self.band_time(), round(self.rng.uniform(0, 100), 2))
                for _ in range(n)]

    def literal(self, v):
        if v is None:
            return "NULL"
        if isinstance(v, datetime.datetime):
            if self.stack.name == "sqlite" and self.rng.random() < 0.3:
                return f"'{v.isoformat(' ')}'"  # SQLite keeps the text: ISO 8601 with a space
            return self.stack.timestamp(v)
        return f"'{v}'" if isinstance(v, str) else repr(v)

    def values(self, rows):
        return ", ".join("(" + ", ".join(self.literal(v) for v in row) + ")" for row in rows)

    # --- write paths --------------------------------------------------------------------------
    def ingest(self, rows, table="ticks", schema=TICKS):
        data = pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema)
        with connect(self.server) as conn, conn.cursor() as cur:
            assert cur.adbc_ingest(table, data, mode="append") == len(rows)

    def doput(self, rows, table="ticks", schema=TICKS):
        data = pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows], schema)
        with flight.connect(self.server.uri) as client:
            writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), schema)
            for batch in data.to_batches(max_chunksize=7):
                writer.write_batch(batch)
                assert json.loads(acks.read().to_pybytes())["rows"] == batch.num_rows
            writer.close()

    def insert_values(self, cur, rows, table="ticks", columns=""):
        cur.execute(f"INSERT INTO {table}{columns} VALUES {self.values(rows)}")

    def executemany(self, cur, rows, table="ticks", columns=""):
        cur.executemany(f"INSERT INTO {table}{columns} VALUES "
                        f"({self.stack.placeholders(len(rows[0]))})", rows)

    def staged(self, rows):
        self.batch += 1
        self.ingest([(self.batch, *r) for r in rows], "staging",
                    pa.schema([("batch", pa.int64()), *TICKS]))
        return self.batch

    def insert_select(self, cur, batch):
        cur.execute(f"INSERT INTO ticks SELECT sym, ts, px, qty FROM staging WHERE batch = {batch}")

    def with_insert(self, cur, batch):
        cur.execute(f"WITH x AS (SELECT sym, ts, px, qty FROM staging WHERE batch = {batch}) "
                    "INSERT INTO ticks SELECT * FROM x")

    def metrics_values(self, cur, rows):
        self.insert_values(cur, rows, "metrics", " (metric_id, timestamp, value)")

    # --- checks -------------------------------------------------------------------------------
    def answered_so_far(self):
        return self.server.log().count("answered from the maintained windows of '")

    def ask(self, shape, sql, want, label):
        before = self.answered_so_far()
        got = query(self.server, sql)
        self.answered[shape] += self.answered_so_far() - before
        assert_rows_match(got, want, f"{label}: {shape}: {sql}")

    def check(self, label, restarted=False):
        self.checks += 1
        stack = self.stack
        stored = stack.stored("SELECT sym, ts, px, qty FROM ticks")
        rows = [(s, t, p) for s, t, p, _ in stored]
        in_windows = [(s, t, p) for s, t, p, q in stored if q not in self.late and t is not None]
        metrics = stack.stored('SELECT metric_id, "timestamp", value FROM metrics')
        # DuckDB's SQL runs on PostgreSQL's rows only in the cache, once its mirrors are ready;
        # a restarted cache (:memory:) mirrors a table again once something is ingested into it.
        if restarted:
            mirrored = all(stack.mirrored(self.server, t, 2) for t in ("ticks", "metrics"))
        else:
            for table in ("ticks", "metrics"):
                stack.wait_mirrored(self.server, table)
            mirrored = True
        if stack.has_duckdb_sql and mirrored:
            for minutes in (1, 5):
                self.ask("time_bucket", time_bucket_sql(minutes),
                         bucket_rows(tumbling(rows, minutes * MINUTE),
                                     "n", "count", "sum", "avg", "min", "max"), label)
            self.ask("metrics time_bucket", METRICS_5M_SQL,
                     bucket_rows(tumbling(metrics, 5 * MINUTE), "count", "sum", "min", "max"),
                     label)
        if stack.has_duckdb_sql and mirrored:
            self.ask("tumble", TUMBLE_SQL,
                     bucket_rows(tumbling(rows, 5 * MINUTE), "n", "sum", "min", "max",
                                 with_end=5 * MINUTE), label)
            self.ask("hop", HOP_SQL,
                     bucket_rows(hopping(rows, 5 * MINUTE, MINUTE), "count", "max",
                                 with_end=5 * MINUTE), label)
        if stack.name != "sqlite":  # SQLite has no now() (and answers its own queries)
            self.ask_trailing(rows, label)
        # Reads of window state: the stored rows, less the rows that arrived late.
        for width, groups in (("1m", tumbling(in_windows, MINUTE)),
                              ("5m", tumbling(in_windows, 5 * MINUTE)),
                              ("hopping 5m/1m", hopping(in_windows, 5 * MINUTE, MINUTE))):
            got = query(self.server, "SELECT sym, window_start, row_count, px_count, px_sum, "
                                     "px_min, px_max FROM hyprstream_window('tw', "
                                     f"width := '{width}') ORDER BY window_start, sym")
            assert_rows_match(got, bucket_rows(groups, "n", "count", "sum", "min", "max"),
                              f"{label}: hyprstream_window {width}")
        since = self.t0 + 10 * MINUTE
        got = query(self.server, "SELECT sym, row_count, px_count, px_sum, px_min, px_max FROM "
                                 "hyprstream_window('tw', width := 'trailing 1h', since := "
                                 f"{(since - EPOCH) // datetime.timedelta(microseconds=1)}) "
                                 "WHERE row_count > 0 ORDER BY sym")
        assert_rows_match(got, [(s, *stats(v, "n", "count", "sum", "min", "max"))
                                for s, v in sorted(trailing(in_windows, since).items())],
                          f"{label}: hyprstream_window trailing since")
        got = query(self.server, "SELECT metric_id, window_start, value_count, value_sum, "
                                 "value_min, value_max FROM hyprstream_window('metrics', "
                                 "width := '5m') ORDER BY window_start, metric_id")
        assert_rows_match(got, bucket_rows(tumbling(metrics, 5 * MINUTE),
                                           "count", "sum", "min", "max"),
                          f"{label}: hyprstream_window metrics 5m")

    def ask_trailing(self, rows, label):
        """The trailing GROUP BY; asked again when a stored row sits between the bounds of the
        moments just before and after the query (the engine's now() is between them)."""
        width = TRAILING_MINUTES * MINUTE
        for _ in range(5):
            before_query = utcnow()
            before = self.answered_so_far()
            got = query(self.server, TRAILING_SQL)
            after_query = utcnow()
            if any(before_query - width < t <= after_query - width
                   for _, t, _ in rows if t is not None):
                continue
            self.answered["trailing"] += self.answered_so_far() - before
            want = [(s, *stats(v, "n", "count", "sum", "avg", "min", "max"))
                    for s, v in sorted(trailing(rows, before_query - width).items())]
            assert_rows_match(got, want, f"{label}: trailing")
            return
        pytest.fail("rows kept sitting on the trailing bound")

    # --- the phases ---------------------------------------------------------------------------
    def run(self):
        stack = self.stack
        query(self.server, "CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, "
                           "px DOUBLE PRECISION, qty BIGINT CHECK (qty > 0))")
        query(self.server, "CREATE TABLE staging (batch BIGINT, sym VARCHAR, ts TIMESTAMP, "
                           "px DOUBLE PRECISION, qty BIGINT)")

        # 1. Bulk ingest, then the definition back-fills from the stored rows.
        self.ingest(self.ticks(150))
        self.ingest(self.metric_rows(40), "metrics", METRICS)
        created = query(self.server, """SELECT backfilled_rows FROM hyprstream_create_window(
            'tw', 'ticks', keys := 'sym', time_column := 'ts', value_columns := 'px',
            windows := '1m, 5m, hopping 5m/1m, trailing 1h',
            aggregates := 'count(*), count, sum, avg, min, max', lateness := '10m')""")
        assert created == [(150,)]
        self.ingest(self.ticks(60))
        self.check("bulk ingest")

        # 2. Streaming DoPut; INSERT ... VALUES.
        self.phase += 1
        self.doput(self.ticks(50))
        self.doput(self.metric_rows(20), "metrics", METRICS)
        with connect(self.server) as conn, conn.cursor() as cur:
            self.insert_values(cur, self.ticks(25))
            self.metrics_values(cur, self.metric_rows(10))
        self.check("DoPut, INSERT VALUES")

        # 3. INSERT ... SELECT, WITH ... INSERT, prepared INSERTs (executemany).
        self.phase += 1
        with connect(self.server) as conn, conn.cursor() as cur:
            self.insert_select(cur, self.staged(self.ticks(30)))
            self.with_insert(cur, self.staged(self.ticks(30)))
            self.executemany(cur, self.ticks(20))
            self.executemany(cur, self.metric_rows(10), "metrics", " (metric_id, timestamp, value)")
        self.check("INSERT SELECT, WITH INSERT, executemany")

        # 4. Scripts of several statements: all of one, none of one that fails.
        self.phase += 1
        with connect(self.server) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO ticks VALUES {self.values(self.ticks(5))}; "
                        f"INSERT INTO ticks VALUES {self.values(self.ticks(5))}; SELECT 1")
            bad = self.ticks(1)[0][:3] + (-1,)
            with pytest.raises(adbc_driver_manager.Error):
                cur.execute(f"INSERT INTO ticks VALUES {self.values(self.ticks(5))}; "
                            f"INSERT INTO ticks VALUES {self.values([bad])}")
        self.check("scripts")

        # 5. DB-API transactions, committed and rolled back.
        self.phase += 1
        with connect(self.server, autocommit=False) as conn, conn.cursor() as cur:
            self.insert_values(cur, self.ticks(15))
            self.metrics_values(cur, self.metric_rows(5))
            conn.commit()
            self.executemany(cur, self.ticks(15))
            self.metrics_values(cur, self.metric_rows(5))
            conn.rollback()
        self.check("DB-API transactions")

        # 6. Rows hours later than the lateness (late for every window), out of order.
        self.phase += 1
        self.ingest(self.ticks(20) + self.ticks(10, late=True))
        self.insert_values_autocommit(self.ticks(5, late=True) + self.ticks(10))
        assert query(self.server, "SELECT late_rows > 0 FROM hyprstream_windows() "
                                  "WHERE name = 'tw'") == [(True,)]
        self.check("late rows")

        # 7. Sessions with open transactions while others commit (SQLite: one writer at a
        # time, so one open transaction and no other writes while it is open).
        self.phase += 1
        several = stack.name != "sqlite"
        a = connect(self.server, autocommit=False)
        b = connect(self.server, autocommit=False) if several else None
        c = connect(self.server) if several else None
        cursors = {name: conn.cursor() for name, conn in (("a", a), ("b", b), ("c", c)) if conn}
        try:
            self.insert_values(cursors["a"], self.ticks(20))
            if several:
                self.executemany(cursors["b"], self.ticks(20))
                cursors["c"].execute("BEGIN")
                self.insert_values(cursors["c"], self.ticks(20))
                self.ingest(self.ticks(30))
                self.doput(self.ticks(15))
                self.insert_values_autocommit(self.ticks(10))
            self.check("open transactions")
            a.commit()
            if several:
                b.rollback()
                cursors["c"].execute("COMMIT")
        finally:
            for cursor in cursors.values():
                cursor.close()
            for conn in (a, b, c):
                if conn is not None:
                    conn.close()
        self.check("transactions ended")

        # 8. SQL BEGIN/COMMIT/ROLLBACK, and a failing statement before a COMMIT (PostgreSQL and
        # DuckDB then roll back; SQLite undoes only that statement): the windows follow what
        # was stored.
        self.phase += 1
        staged = self.staged(self.ticks(10)), self.staged(self.ticks(10))
        with connect(self.server) as conn, conn.cursor() as cur:
            for end, batch in zip(("COMMIT", "ROLLBACK"), staged):
                cur.execute("BEGIN")
                self.insert_values(cur, self.ticks(10))
                self.with_insert(cur, batch)
                cur.execute(end)
            cur.execute("BEGIN")
            self.insert_values(cur, self.ticks(10))
            self.metrics_values(cur, self.metric_rows(5))
            with pytest.raises(adbc_driver_manager.Error):
                self.insert_values(cur, [self.ticks(1)[0][:3] + (-1,)])
            cur.execute("COMMIT")
        self.check("SQL transactions")

        # 9. A restart: the state is rebuilt from the stored rows (PostgreSQL: from its rows
        # and its _hyprstream schema, into an empty :memory: cache).
        self.phase += 1
        self.server = stack.restart(*SERVER_ARGS)
        self.late.clear()  # rebuilt in time order: nothing is late
        self.check("restart", restarted=True)
        self.ingest(self.ticks(40))
        self.doput(self.metric_rows(10), "metrics", METRICS)
        self.check("after the restart")

        # 10. Writers on several threads (SQLite takes one writer at a time: the others wait,
        # its busy timeout).
        self.phase += 1
        jobs = [lambda rows=self.ticks(20): self.ingest(rows),
                lambda rows=self.ticks(20): self.doput(rows),
                lambda rows=self.ticks(20): self.insert_values_autocommit(rows),
                lambda rows=self.ticks(20): self.ingest(rows),
                lambda rows=self.ticks(20): self.insert_values_autocommit(rows),
                lambda rows=self.ticks(20): self.doput(rows)]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        self.check("threads")

        # 11. Rows without a time and values that are NULL: GROUP BYs keep a NULL bucket, which
        # the windows cannot answer, so the engine does from then on.
        self.phase += 1
        self.ingest(self.ticks(30, null_times=True))
        self.check("null times")

        # 12. Changes the windows cannot follow: an UPDATE and a DELETE of random rows, and a
        # DELETE of some metrics rows. The windows are rebuilt from the stored rows (SQLite's
        # while writes wait) and equal them again; rows are folded in time order, so none is
        # late any more.
        self.phase += 1
        with connect(self.server) as conn, conn.cursor() as cur:
            cur.execute(f"UPDATE ticks SET px = px * 2 WHERE sym = '{self.rng.choice(SYMS)}'")
            cur.execute(f"DELETE FROM ticks WHERE qty % 5 = {self.rng.randrange(5)}")
            cur.execute(f"DELETE FROM metrics WHERE value < {self.rng.uniform(10, 40):.2f}")
        self.late.clear()
        self.ingest(self.ticks(20))
        self.check("changes")

    def insert_values_autocommit(self, rows):
        with connect(self.server) as conn, conn.cursor() as cur:
            self.insert_values(cur, rows)


def test_windows_answer_every_write_path_exactly(stack):
    run = Differential(stack)
    run.run()
    answered = run.answered
    shapes = (("time_bucket", "metrics time_bucket", "tumble", "hop", "trailing")
              if stack.has_duckdb_sql else ())
    assert all(answered[s] > 0 for s in shapes), answered
    if stack.name == "sqlite":
        assert sum(answered.values()) == 0, answered  # SQLite answers its own queries

