"""Real-time windows end to end, on every engine stack (the `stack` fixture, stacks.py:
embedded DuckDB, ADBC SQLite, ADBC PostgreSQL behind the DuckDB cache): the built-in metrics
table (running columns computed at ingest through every path, default tumbling windows), window
definitions through SQL on any table, hop/tumble, late data, restart recovery. Every maintained
result is checked against the engine's own rows (read back from the backend itself) aggregated
in Python; DuckDB's own SQL is only sent where DuckDB runs it (the embedded engine, the cache's
mirrors), and where a stack cannot run a query shape, the test asserts its clear refusal."""
import bisect
import datetime
import json
import math
import random
import re
import statistics
import threading
import time

import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from stacks import (aggregates, assert_rows_match, bucket_start, connect, hopping, sort_key,
                    trailing, tumbling, window_reference)

BASE = datetime.datetime(2026, 1, 1, 12, 0, 0)
SECOND = datetime.timedelta(seconds=1)
METRICS_COLUMNS = ('metric_id, "timestamp", value, value_running_window_sum, '
                   'value_running_window_avg, value_running_window_count')


def rows(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def metrics_table(n, start=BASE, step_s=7, ids=("cpu", "mem", "disk"), seed=1):
    rng = random.Random(seed)
    return pa.table({
        "metric_id": [ids[i % len(ids)] for i in range(n)],
        "timestamp": pa.array([start + datetime.timedelta(seconds=step_s * i) for i in range(n)],
                              pa.timestamp("ms")),
        "value": [round(rng.uniform(0, 100), 3) for _ in range(n)],
    })


def reference_running(table, width=datetime.timedelta(minutes=5)):
    """Brute force: per row, that metric's rows with time in (t - width, t] seen so far."""
    out, seen = [], []
    for m, t, v in zip(*(table[c].to_pylist() for c in ("metric_id", "timestamp", "value"))):
        seen.append((m, t, v))
        window = [x for (mm, tt, x) in seen if mm == m and t - width < tt <= t]
        out.append((m, t, v, sum(window), sum(window) / len(window), len(window)))
    return out


def stored_metrics(stack):
    """The metrics rows the backend stored, with their running columns, in time order."""
    return sorted(stack.stored(f"SELECT {METRICS_COLUMNS} FROM metrics"), key=lambda r: r[1])


def assert_running_columns(got, want):
    assert len(got) == len(want)
    for g, e in zip(got, want):
        assert g[:3] == e[:3] and g[5] == e[5], (g, e)
        assert math.isclose(g[3], e[3], rel_tol=1e-9) and math.isclose(g[4], e[4], rel_tol=1e-9)


def assert_windows_match_group_by(cur, stored, name, table, time_column, keys, width,
                                  value="value"):
    """hyprstream_window(name, width) == the GROUP BY key, bucket of the rows the engine
    stored, read back with `stored` (sql -> rows; Stack.stored) and aggregated here."""
    key_list = ", ".join(keys)
    stored = stored(f'SELECT {key_list}, "{time_column}", {value} FROM {table}')
    seconds = int(width.total_seconds())
    got = rows(cur, f"""
        SELECT {key_list}, window_start, {value}_count, {value}_sum, {value}_min, {value}_max
        FROM hyprstream_window('{name}', width := '{seconds}s')
        ORDER BY window_start, {key_list}""")
    assert_rows_match(got, window_reference(stored, width), name)


README_QUERY = """SELECT metric_id, COUNT(*) AS samples, AVG(value_running_window_avg) AS avg_value
FROM metrics WHERE timestamp >= NOW() - INTERVAL '1 hour'
GROUP BY metric_id ORDER BY avg_value DESC"""


def test_readme_query_over_metrics(stack):
    """The README's metrics query, verbatim where the backend speaks its SQL (SQLite: its own
    spelling of the bound), over rows whose running columns hyprstream computed."""
    server = stack.start()
    now = utcnow().replace(microsecond=0)
    data = metrics_table(60, start=now - datetime.timedelta(minutes=30), step_s=20)
    sql = README_QUERY.replace("NOW() - INTERVAL '1 hour'", stack.now_minus("1 hour")) \
        if stack.name == "sqlite" else README_QUERY
    with connect(server) as conn:
        cur = conn.cursor()
        assert cur.adbc_ingest("metrics", data, mode="append") == 60
        got = rows(cur, sql)
    reference = {}
    for m, _, _, _, avg, _ in reference_running(data):
        reference.setdefault(m, []).append(avg)
    expected = sorted(((m, len(v), sum(v) / len(v)) for m, v in reference.items()),
                      key=lambda r: -r[2])
    assert [r[:2] for r in got] == [r[:2] for r in expected]
    for g, e in zip(got, expected):
        assert math.isclose(g[2], e[2], rel_tol=1e-9)


def test_running_columns_through_every_ingest_path(stack):
    server = stack.start()
    data = metrics_table(120)
    parts = [data.slice(0, 40), data.slice(40, 40), data.slice(80, 20), data.slice(100, 20)]
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", parts[0], mode="append")  # bulk ingest
        client = flight.connect(server.uri)                 # streaming DoPut
        writer, acks = client.do_put(flight.FlightDescriptor.for_path("metrics"), parts[1].schema)
        for batch in parts[1].to_batches(max_chunksize=16):
            writer.write_batch(batch)
            json.loads(acks.read().to_pybytes())
        writer.close()
        client.close()
        for m, t, v in zip(*(parts[2][c].to_pylist() for c in parts[2].column_names)):  # INSERT
            cur.execute(f"INSERT INTO metrics (metric_id, timestamp, value) "
                        f"VALUES ('{m}', {stack.timestamp(t)}, {v})")
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) "
                        f"VALUES ({stack.placeholders(3)})",
                        list(zip(*(parts[3][c].to_pylist() for c in parts[3].column_names))))
    got = stored_metrics(stack)
    assert len(got) == 120
    assert_running_columns(got, reference_running(data))


def test_running_columns_of_rows_out_of_order_equal_brute_force(stack):
    """Several writers per metric: half the rows arrive up to 10 s behind their metric's
    newest. Bulk ingest in batches above the size prepared ahead on a worker (two per call,
    so one is prepared while the other is stored) and a streaming DoPut; every stored row's
    running columns must equal a brute force over the rows sent before it."""
    server = stack.start()
    rng = random.Random(15)
    n, ids = 20000, ("cpu", "mem", "disk")
    times = []
    for i in range(n):
        t = BASE + datetime.timedelta(seconds=0.36 * i)
        if rng.random() < 0.5:
            t -= datetime.timedelta(milliseconds=rng.randrange(10000))
        times.append(t.replace(microsecond=t.microsecond // 1000 * 1000))
    data = pa.table({
        "metric_id": [ids[rng.randrange(3)] for _ in range(n)],
        "timestamp": pa.array(times, pa.timestamp("ms")),
        "value": [round(rng.uniform(-50, 100), 3) for _ in range(n)],
    })
    with connect(server) as conn:
        cur = conn.cursor()
        for part in (data.slice(0, 9000), data.slice(9000, 9000)):
            batches = part.to_batches(max_chunksize=9000 // 2 + 1)
            assert all(b.num_rows > 4096 for b in batches) and len(batches) == 2
            reader = pa.RecordBatchReader.from_batches(data.schema, batches)
            assert cur.adbc_ingest("metrics", reader, mode="append") == 9000
        client = flight.connect(server.uri)
        tail = data.slice(18000)
        writer, acks = client.do_put(flight.FlightDescriptor.for_path("metrics"), tail.schema)
        for batch in tail.to_batches(max_chunksize=500):
            writer.write_batch(batch)
            json.loads(acks.read().to_pybytes())
        writer.close()
        client.close()
    # Brute force per metric over the rows sent so far, kept in time order.
    width = datetime.timedelta(minutes=5)
    kept, want = {}, []
    for m, t, v in zip(*(data[c].to_pylist() for c in data.column_names)):
        mine = kept.setdefault(m, [])
        mine.insert(bisect.bisect_right(mine, (t, math.inf)), (t, v))
        upto = bisect.bisect_right(mine, (t, math.inf))
        start = bisect.bisect_right(mine, (t - width, math.inf), 0, upto)
        window = [x for _, x in mine[start:upto]]
        want.append((m, t, v, sum(window), sum(window) / len(window), len(window)))
    got = sorted(stack.stored(f"SELECT {METRICS_COLUMNS} FROM metrics"))
    assert_running_columns(got, sorted(want))


def test_running_columns_in_a_transaction_follow_commit(stack):
    server = stack.start()
    data = metrics_table(30)
    with connect(server, autocommit=False) as conn:
        cur = conn.cursor()
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) "
                        f"VALUES ({stack.placeholders(3)})",
                        list(zip(*(data[c].to_pylist() for c in data.column_names))))
        conn.commit()
        assert [g[5] for g in stored_metrics(stack)] == [e[5] for e in reference_running(data)]
        windows = rows(cur, "SELECT sum(value_count) FROM "
                            "hyprstream_window('metrics', width := '5m')")
        assert windows == [(30,)]


def test_default_metrics_windows_match_group_by(stack):
    server = stack.start()
    data = metrics_table(2000, step_s=13, ids=tuple(f"m{i}" for i in range(17)))
    with connect(server) as conn:
        cur = conn.cursor()
        for batch in data.to_batches(max_chunksize=300):
            cur.adbc_ingest("metrics", pa.Table.from_batches([batch]), mode="append")
        for width in (datetime.timedelta(minutes=5), datetime.timedelta(minutes=30),
                      datetime.timedelta(hours=1), datetime.timedelta(days=1)):
            assert_windows_match_group_by(cur, stack.stored, "metrics", "metrics", "timestamp",
                                          ["metric_id"], width)
        current = rows(cur, "SELECT count(*), bool_or(closed) FROM "
                            "hyprstream_window('metrics', width := '5m', current := 'true')")
        five = datetime.timedelta(minutes=5)
        stored = stack.stored('SELECT metric_id, "timestamp" FROM metrics')
        newest = max(bucket_start(t, five) for _, t in stored)
        assert current == [(len({m for m, t in stored if bucket_start(t, five) == newest}), False)]
        # key := looks keys up directly; same rows as filtering every key's rows
        for extra in ("", ", current := 'true'"):
            direct = rows(cur, "SELECT * FROM hyprstream_window('metrics', width := '5m', "
                               f"key := 'm3,m5,nope'{extra}) ORDER BY window_start, metric_id")
            filtered = rows(cur, "SELECT * FROM hyprstream_window('metrics', width := '5m'"
                                 f"{extra}) WHERE metric_id IN ('m3', 'm5', 'nope') "
                                 "ORDER BY window_start, metric_id")
            assert direct == filtered and len(direct) > 0


def test_a_metrics_window_with_other_keys_matches_group_by(stack):
    """A definition over metrics without metric_id as its key (here: no key at all), fed by bulk
    batches big enough that the fold looks metric_id up once per batch for the built-in
    definitions (metrics, metrics_trailing): it keys its rows its own way, equal to a GROUP BY."""
    server = stack.start()
    data = metrics_table(3000, step_s=7, ids=tuple(f"m{i}" for i in range(5)))
    width = datetime.timedelta(minutes=5)
    with connect(server) as conn:
        cur = conn.cursor()
        created = rows(cur, "SELECT * FROM hyprstream_create_window('overall', 'metrics', "
                            "time_column := 'timestamp', value_columns := 'value', "
                            "windows := '5m', aggregates := 'count,sum,min,max')")
        assert created[0][0] == "overall"
        for batch in data.to_batches(max_chunksize=1000):
            cur.adbc_ingest("metrics", pa.Table.from_batches([batch]), mode="append")
        got = rows(cur, "SELECT window_start, value_count, value_sum, value_min, value_max "
                        "FROM hyprstream_window('overall', width := '5m') ORDER BY window_start")
        stored = stack.stored('SELECT "timestamp", value FROM metrics')
        assert len(stored) == 3000
        assert_rows_match(got, window_reference(stored, width), "overall")
        assert_windows_match_group_by(cur, stack.stored, "metrics", "metrics", "timestamp",
                                      ["metric_id"], width)


def trades_table(n, start, seed=7):
    rng = random.Random(seed)
    return pa.table({
        "sym": [rng.choice("ABC") for _ in range(n)],
        "venue": [rng.choice(["x", "y"]) for _ in range(n)],
        "ts": pa.array([start + datetime.timedelta(seconds=3 * i) for i in range(n)],
                       pa.timestamp("ms")),
        "price": [rng.uniform(10, 20) for _ in range(n)],
        "qty": [rng.randint(1, 9) for _ in range(n)],
    })


def test_window_definitions_through_sql_on_any_table(stack):
    server = stack.start()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE trades (sym VARCHAR, venue VARCHAR, ts TIMESTAMP, "
                    "price DOUBLE PRECISION, qty BIGINT)")
        first = trades_table(500, BASE)
        cur.adbc_ingest("trades", first, mode="append")
        created = rows(cur, "SELECT * FROM hyprstream_create_window('trade_bars', 'trades', "
                            "keys := 'sym,venue', time_column := 'ts', value_columns := 'price', "
                            "windows := '1m,hopping 10m/5m', aggregates := 'count,sum,min,max,"
                            "first,last,stddev_samp')")
        assert created[0][0] == "trade_bars" and created[0][3] == 500  # back-filled
        second = first.set_column(2, "ts", pa.array(
            [BASE + datetime.timedelta(seconds=1500 + 3 * i) for i in range(500)],
            pa.timestamp("ms")))
        cur.adbc_ingest("trades", second, mode="append")
        listed = rows(cur, "SELECT name, \"table\", rows FROM hyprstream_windows() "
                           "WHERE name = 'trade_bars'")
        assert listed == [("trade_bars", "main.trades", 1000)]
        got = rows(cur, """
            SELECT sym, venue, window_start, price_count, price_min, price_max,
                   price_first, price_last, price_stddev_samp
            FROM hyprstream_window('trade_bars', width := '1m') ORDER BY 1, 2, 3""")
        stored = stack.stored("SELECT sym, venue, ts, price FROM trades")
        groups = {}
        for sym, venue, ts, price in stored:
            groups.setdefault((sym, venue, bucket_start(ts, datetime.timedelta(minutes=1))),
                              []).append((ts, price))
        expected = []
        for key in sorted(groups):
            ordered = [p for _, p in sorted(groups[key])]
            expected.append((*key, len(ordered), min(ordered), max(ordered), ordered[0],
                             ordered[-1], statistics.stdev(ordered) if len(ordered) > 1 else None))
        assert_rows_match(got, expected)
        # hopping windows (hop() itself: test_tumble_hop_and_time_bucket_...)
        hopped = rows(cur, "SELECT sym, venue, window_start, price_count FROM "
                           "hyprstream_window('trade_bars', width := 'hopping 10m/5m') "
                           "ORDER BY 1, 2, 3")
        reference = hopping([((s, v), t, p) for s, v, t, p in stored],
                            datetime.timedelta(minutes=10), datetime.timedelta(minutes=5))
        assert hopped == sorted((*k, start, len(v)) for (k, start), v in reference.items())
        assert rows(cur, "SELECT * FROM hyprstream_drop_window('trade_bars')") == \
            [("trade_bars", True)]
        with pytest.raises(adbc_driver_manager.Error, match="does not exist"):
            rows(cur, "SELECT * FROM hyprstream_window('trade_bars')")


def test_window_reads_join_tables_where_duckdb_holds_them(stack):
    """hyprstream_window(...) results are relations: joined with a table where one DuckDB holds
    both (the embedded engine; the cache's mirror of an ingested table). SQLite's tables are
    not in a DuckDB: the join is refused with a message saying so."""
    server = stack.start()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE trades (sym VARCHAR, venue VARCHAR, ts TIMESTAMP, "
                    "price DOUBLE PRECISION, qty BIGINT)")
        cur.adbc_ingest("trades", trades_table(100, BASE), mode="append")
        rows(cur, "SELECT * FROM hyprstream_create_window('trade_bars', 'trades', "
                  "keys := 'sym', time_column := 'ts', value_columns := 'price', windows := '1m')")
        cur.adbc_ingest("symbols", pa.table({"sym": ["A"], "name": ["Alpha"]}), mode="create")
        join = ("SELECT DISTINCT name FROM hyprstream_window('trade_bars') "
                "JOIN symbols USING (sym)")
        if stack.has_duckdb_sql:
            assert rows(cur, join) == [("Alpha",)]
        else:
            with pytest.raises(adbc_driver_manager.Error, match="symbols"):
                rows(cur, join)


def test_bad_window_definitions_are_clear_errors(stack):
    server = stack.start()
    with connect(server) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_manager.Error, match="does not exist"):
            rows(cur, "SELECT * FROM hyprstream_create_window('w', 'no_such_table', "
                      "time_column := 'ts', value_columns := 'v')")
        with pytest.raises(adbc_driver_manager.Error, match="aggregate|median"):
            rows(cur, "SELECT * FROM hyprstream_create_window('w', 'metrics', "
                      "time_column := 'timestamp', value_columns := 'value', "
                      "aggregates := 'median')")
        with pytest.raises(adbc_driver_manager.Error, match="already|exists"):
            rows(cur, "SELECT * FROM hyprstream_create_window('metrics', 'metrics', "
                      "time_column := 'timestamp', value_columns := 'value')")


def test_integer_timestamps_need_a_declared_unit(stack):
    server = stack.start()
    epoch = pa.table({"metric_id": ["a"], "timestamp": pa.array([1_700_000_000_000]),
                      "value": [1.0]})
    with connect(server) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_manager.Error, match="unit"):
            cur.adbc_ingest("metrics", epoch, mode="append")
    assert stack.stored("SELECT count(*) FROM metrics") == [(0,)]
    declared = stack.restart("--metrics-integer-time-unit", "ms")
    with connect(declared) as conn, conn.cursor() as cur:
        cur.adbc_ingest("metrics", epoch, mode="append")
    assert stack.stored('SELECT "timestamp" FROM metrics') == \
        [(datetime.datetime(2023, 11, 14, 22, 13, 20),)]


def test_late_rows_are_stored_and_counted(stack):
    server = stack.start("--window-lateness", "1m")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(100, step_s=10, ids=("a",)), mode="append")
        late = pa.table({"metric_id": ["a"], "timestamp": pa.array([BASE], pa.timestamp("ms")),
                         "value": [1000.0]})
        cur.adbc_ingest("metrics", late, mode="append")
        assert stack.stored("SELECT count(*) FROM metrics") == [(101,)]
        # Watermark 12:15:30 (max time - 1m): the row is late for its closed 5m window only;
        # the 30m, 1h and 1d windows holding it are still open and count it.
        assert rows(cur, "SELECT late_rows FROM hyprstream_windows() WHERE name = 'metrics'") \
            == [(1,)]
        assert rows(cur, "SELECT value_max FROM hyprstream_window('metrics', width := '30m') "
                         "ORDER BY window_start LIMIT 1") == [(1000.0,)]
        first_window = rows(cur, "SELECT value_count, value_max FROM hyprstream_window("
                                 "'metrics', width := '5m') ORDER BY window_start LIMIT 1")
        assert first_window == [(30, first_window[0][1])] and first_window[0][1] < 1000


def keyed_rows(n, keys, start, step_s, seed=0):
    """(k BIGINT, ts, value) rows: key i % keys, times `step_s` apart from `start` (negative:
    going back), values i."""
    return pa.table({
        "k": pa.array([i % keys for i in range(n)], pa.int64()),
        "ts": pa.array([start + datetime.timedelta(seconds=step_s * i) for i in range(n)],
                       pa.timestamp("us")),
        "value": [float(i + seed) for i in range(n)],
    })


def test_window_state_survives_a_restart(stack):
    """Definitions, closed-window history and open state survive a restart on every stack: the
    DuckDB file, the SQLite file, PostgreSQL (the cache's :memory: DuckDB starts empty, state is
    rebuilt from PostgreSQL's rows and its _hyprstream schema)."""
    first = stack.start()
    data = metrics_table(600, step_s=11)
    with connect(first) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", data.slice(0, 400), mode="append")
        cur.execute("CREATE TABLE events (k BIGINT, ts TIMESTAMP, value DOUBLE PRECISION)")
        cur.adbc_ingest("events", keyed_rows(1000, 5, datetime.datetime(2026, 1, 1), 1),
                        mode="append")
        rows(cur, "SELECT * FROM hyprstream_create_window('ev', 'events', keys := 'k', "
                  "time_column := 'ts', value_columns := 'value', windows := '2m')")
        before = rows(cur, "SELECT * FROM hyprstream_window('ev') ORDER BY 2, 3")
        assert_windows_match_group_by(cur, stack.stored, "ev", "events", "ts", ["k"],
                                      datetime.timedelta(minutes=2))
        # A trailing buffer over recent rows, read since a fixed bound before and after.
        cur.execute("CREATE TABLE recent (k BIGINT, ts TIMESTAMP, value DOUBLE PRECISION)")
        newest = utcnow().replace(microsecond=0)
        cur.adbc_ingest("recent", keyed_rows(1200, 3, newest, -1), mode="append")
        rows(cur, "SELECT * FROM hyprstream_create_window('rc', 'recent', keys := 'k', "
                  "time_column := 'ts', value_columns := 'value', windows := 'trailing 30m')")
        since = int((newest - datetime.timedelta(minutes=10) -
                     datetime.datetime(1970, 1, 1)).total_seconds()) * 1000000
        trailing_sql = (f"SELECT k, value_count, value_sum, value_min, value_max "
                        f"FROM hyprstream_window('rc', since := {since}) ORDER BY k")
        trailing = rows(cur, trailing_sql)
        assert sum(r[1] for r in trailing) == 600
    second = stack.restart()
    with connect(second) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT * FROM hyprstream_window('ev') ORDER BY 2, 3") == before
        assert rows(cur, trailing_sql) == trailing
        cur.adbc_ingest("metrics", data.slice(400, 200), mode="append")
        assert_running_columns(stored_metrics(stack), reference_running(data))
        assert_windows_match_group_by(cur, stack.stored, "metrics", "metrics", "timestamp",
                                      ["metric_id"], datetime.timedelta(minutes=5))


def reference_running_with_late(table, width=datetime.timedelta(minutes=5),
                                lateness=datetime.timedelta(minutes=1)):
    """Brute force with late rows: a row more than `lateness` behind the newest time sent
    before it gets null running columns and a count of 0, and is in no later row's window."""
    out, kept, newest = [], [], None
    for m, t, v in zip(*(table[c].to_pylist() for c in ("metric_id", "timestamp", "value"))):
        if newest is not None and t < newest - lateness:
            out.append((m, t, v, None, None, 0))
            continue
        newest = t if newest is None else max(newest, t)
        kept.append((m, t, v))
        window = [x for (mm, tt, x) in kept if mm == m and t - width < tt <= t]
        out.append((m, t, v, sum(window), sum(window) / len(window), len(window)))
    return out


def test_running_columns_after_a_restart_equal_those_without_one(stack):
    """A start reads back only the stored rows of the last running width + lateness, and
    leaves out the late rows among them (stored with a count of 0) as the running state did:
    every row's running columns, before and after a restart, equal a brute force over the rows
    sent before it with late rows in no window, on every stack."""
    rng = random.Random(31)
    times, ids = [], ("cpu", "mem", "disk")
    for i in range(900):  # 30 minutes, every 2 s; some rows 33.5 s behind, some 91 s (late)
        t = BASE + 2 * i * SECOND
        roll = rng.random()
        times.append(t - 91 * SECOND if roll < 0.1 else
                     t - datetime.timedelta(seconds=33.5) if roll < 0.2 else t)
    data = pa.table({"metric_id": [ids[rng.randrange(3)] for _ in times],
                     "timestamp": pa.array(times, pa.timestamp("ms")),
                     "value": [float(rng.randrange(1000)) for _ in times]})
    with connect(stack.start()) as conn:
        conn.cursor().adbc_ingest("metrics", data.slice(0, 600), mode="append")
    with connect(stack.restart()) as conn:
        conn.cursor().adbc_ingest("metrics", data.slice(600), mode="append")
    want = {(r[0], r[1]): r for r in reference_running_with_late(data)}
    got = stack.stored(f"SELECT {METRICS_COLUMNS} FROM metrics")
    assert len(got) == len(want) == 900
    late = 0
    for g in got:
        e = want[(g[0], g[1])]
        assert g[2] == e[2] and g[5] == e[5], (g, e)
        if e[5] == 0:
            late += 1
            assert g[3] is None and g[4] is None, g
        else:
            assert g[3] == e[3] and math.isclose(g[4], e[4], rel_tol=1e-12), (g, e)
    assert 60 < late < 120


def test_windows_after_a_restart_over_days_of_rows_equal_the_stored_rows(stack):
    """Three days of metrics, then a restart: every window width equals a GROUP BY of the
    stored rows. On embedded DuckDB, and over PostgreSQL from the cache's copy, the start folds
    every row, read in time ranges from a snapshot (DuckDB's GROUP BY of the closed windows would
    scan the rows once per width of the four: it costs more)."""
    data = metrics_table(6000, start=BASE - datetime.timedelta(days=3), step_s=43)
    with connect(stack.start()) as conn:
        assert conn.cursor().adbc_ingest("metrics", data, mode="append") == 6000
    with connect(stack.restart()) as conn:
        cur = conn.cursor()
        for minutes in (5, 60, 24 * 60):
            assert_windows_match_group_by(cur, stack.stored, "metrics", "metrics", "timestamp",
                                          ["metric_id"], datetime.timedelta(minutes=minutes))
        if stack.name != "sqlite":
            folded = dict(rows(cur, "SELECT name, rows FROM hyprstream_windows()"))
            assert folded["metrics"] == 6000, folded


def test_windows_declared_in_the_config_file(stack, tmp_path):
    first = stack.start()
    with connect(first) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor BIGINT, read_at TIMESTAMP, "
                    "temp DOUBLE PRECISION)")
        cur.adbc_ingest("readings", keyed_rows(3600, 3, datetime.datetime(2026, 1, 1), 1)
                        .rename_columns(["sensor", "read_at", "temp"]), mode="append")
    config = tmp_path / "hyprstream.toml"
    config.write_text('[[windows]]\nname = "temps"\ntable = "readings"\nkeys = ["sensor"]\n'
                      'time_column = "read_at"\nvalue_columns = "temp"\nwindows = ["10m", "30m"]\n'
                      '\n[[windows]]\nname = "later"\ntable = "not_created_yet"\n'
                      'time_column = "read_at"\nvalue_columns = "temp"\n')
    second = stack.restart("--config", str(config))
    with connect(second) as conn:
        cur = conn.cursor()
        # Built from a snapshot of the stored rows (or of the cache's copy), folding only the
        # rows of the windows still open (the last 30 minutes) and taking the closed ones from
        # DuckDB (many rows per key and window, two widths: that costs less than a fold of every
        # row); SQLite's rows cannot be read so, and are folded every one.
        folded = 3600 if stack.name == "sqlite" else 1800
        assert rows(cur, "SELECT name, rows FROM hyprstream_windows() WHERE name = 'temps'") == \
            [("temps", folded)]
        assert_windows_match_group_by(cur, stack.stored, "temps", "readings", "read_at", ["sensor"],
                                      datetime.timedelta(minutes=10), value="temp")
        assert rows(cur, "SELECT count(*) FROM hyprstream_windows() WHERE name = 'later'") == [(0,)]
    assert "not_created_yet" in second.log()


GROUP_BY_5M = """SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) AS bucket,
       count(value), sum(value) AS total, avg(value), min(value), max(value)
FROM metrics GROUP BY metric_id, bucket"""


def group_by_5m_reference(stack):
    """GROUP_BY_5M over the rows the engine stored, computed here, ordered by metric, bucket."""
    stored = stack.stored('SELECT metric_id, "timestamp", value FROM metrics')
    out = []
    for (metric, start), values in tumbling(stored, datetime.timedelta(minutes=5)).items():
        a = aggregates(values)
        out.append((metric, start, a["count"], a["sum"], a["avg"], a["min"], a["max"]))
    return sorted(out, key=sort_key)


def answered_count(server, name):
    return server.log().count(f"answered from the maintained windows of '{name}'")


def assert_refused_by_the_engine(server, cur, sql, error, definition):
    """A query in DuckDB's SQL on a stack without DuckDB below the windows (SQLite): the
    engine's refusal (or the windows layer's, naming --enable-cache) reaches the client, and no
    answer comes from window state instead."""
    with pytest.raises(adbc_driver_manager.Error, match=error):
        rows(cur, sql)
    assert answered_count(server, definition) == 0


def test_group_by_time_bucket_is_answered_from_the_windows(stack):
    """A time_bucket GROUP BY is answered from the metrics windows where DuckDB's SQL runs (the
    embedded engine; PostgreSQL's rows mirrored in the cache) and equals the GROUP BY of the
    stored rows; SQLite has no time_bucket, so the windows leave it to SQLite, which refuses."""
    server = stack.start("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(3000, step_s=3, ids=("a", "b", "c", "d")),
                        mode="append")
        if not stack.has_duckdb_sql:
            assert_refused_by_the_engine(server, cur, GROUP_BY_5M, "time_bucket", "metrics")
            return
        stack.wait_mirrored(server, "metrics")
        cur.execute(GROUP_BY_5M)
        maintained = cur.fetch_arrow_table()
        assert answered_count(server, "metrics") == 1
        # WHERE true: not a shape the rewriter takes, so the engine computes it
        cur.execute(GROUP_BY_5M.replace("FROM metrics", "FROM metrics WHERE true"))
        computed = cur.fetch_arrow_table()
        assert answered_count(server, "metrics") == 1
        assert maintained.schema.names == computed.schema.names == \
            ["metric_id", "bucket", "count(\"value\")", "total", "avg(\"value\")",
             "min(\"value\")", "max(\"value\")"]
        assert maintained.schema.types == computed.schema.types
        reference = group_by_5m_reference(stack)
        assert len(reference) > 0
        for answer in (maintained, computed):
            assert_rows_match(sorted((tuple(r.values()) for r in answer.to_pylist()),
                                     key=sort_key), reference)
        # a late row for a closed 5m window: the windows no longer equal GROUP BY -> engine
        late = pa.table({"metric_id": ["a"], "timestamp": pa.array([BASE], pa.timestamp("ms")),
                         "value": [1.0]})
        cur.adbc_ingest("metrics", late, mode="append")
        cur2 = conn.cursor()
        cur2.execute(GROUP_BY_5M)
        after = sorted((tuple(r.values()) for r in cur2.fetch_arrow_table().to_pylist()),
                       key=sort_key)
        assert answered_count(server, "metrics") == 1
        assert after[0][:2] == ("a", BASE) and after[0][5] == 1.0  # the late row counted
        assert_rows_match(after, group_by_5m_reference(stack))


def test_sql_inserts_feed_windows_of_any_table(stack):
    """INSERT (plain, prepared, in transactions, after WITH, by name, ending in a comment) into a
    table with windows reaches them; a rolled-back insert does not; an INSERT in a script of
    several statements reaches them too. UPDATE/DELETE, which the windows cannot follow,
    rebuild them afterwards (embedded and PostgreSQL from a snapshot, behind the cache from its
    copy; SQLite while writes to the table wait): a direct read waits for the rebuild, then
    equals the stored rows."""
    server = stack.start()
    ts = stack.timestamp
    one_minute = datetime.timedelta(minutes=1)
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rw', 'readings', keys := 'sensor', "
                  "time_column := 'ts', value_columns := 'value', windows := '1m')")
        cur.execute(f"INSERT INTO readings VALUES ('a', {ts(BASE + 5 * SECOND)}, 1.5), "
                    f"('b', {ts(BASE + 10 * SECOND)}, 2.5)")
        assert cur.rowcount == 2
        cur.executemany(f"INSERT INTO readings VALUES ({stack.placeholders(3)})",
                        [("a", BASE + (20 + i) * SECOND, float(i)) for i in range(5)])
        # An INSERT after a WITH clause, and one ending in a comment, reach the windows too.
        cur.execute(f"WITH x AS (SELECT 'e' AS sensor, {ts(BASE + 40 * SECOND)} AS ts, "
                    "3.0 AS value) INSERT INTO readings SELECT * FROM x")
        if stack.name == "duckdb":
            cur.execute("INSERT INTO readings BY NAME SELECT 4.0 AS value, 'e' AS sensor, "
                        f"{ts(BASE + 41 * SECOND)} AS ts; -- by name")
        else:
            cur.execute("INSERT INTO readings (value, sensor, ts) SELECT 4.0, 'e', "
                        f"{ts(BASE + 41 * SECOND)}; -- by column list")
        assert_windows_match_group_by(cur, stack.stored, "rw", "readings", "ts", ["sensor"],
                                      one_minute)
        cur.execute("UPDATE readings SET value = value + 1 WHERE sensor = 'a'")
        assert_windows_match_group_by(cur, stack.stored, "rw", "readings", "ts", ["sensor"],
                                      one_minute)
        cur.execute(f"INSERT INTO readings VALUES ('b', {ts(BASE + 12 * SECOND)}, 7.0)")
        cur.execute("DELETE FROM readings WHERE sensor = 'b'")
        assert stack.stored("SELECT count(*) FROM readings") == [(8,)]
        assert_windows_match_group_by(cur, stack.stored, "rw", "readings", "ts", ["sensor"],
                                      one_minute)
        cur.execute(f"INSERT INTO readings VALUES ('b', {ts(BASE + 10 * SECOND)}, 2.5)")
        assert stack.stored("SELECT count(*) FROM readings") == [(9,)]
        # A change of the table's shape is refused, saying what to do.
        for ddl in ("ALTER TABLE readings ADD COLUMN extra INTEGER", "DROP TABLE readings"):
            with pytest.raises(adbc_driver_manager.Error,
                               match="feeds windows.*drop its windows first"):
                cur.execute(ddl)
        assert stack.stored("SELECT count(*) FROM readings") == [(9,)]
        # A script: each statement goes its own way, the INSERT into the windows.
        cur.execute(f"INSERT INTO readings VALUES ('f', {ts(BASE + 5 * SECOND)}, 0); SELECT 1")
        assert stack.stored("SELECT count(*) FROM readings") == [(10,)]
        assert_windows_match_group_by(cur, stack.stored, "rw", "readings", "ts", ["sensor"],
                                      one_minute)
    # Transactions: folded at commit only.
    with connect(server, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute(f"INSERT INTO readings VALUES ('c', {ts(BASE + 60 * SECOND)}, 9.0)")
        conn.rollback()
        cur.execute(f"INSERT INTO readings VALUES ('d', {ts(BASE + 90 * SECOND)}, 4.0)")
        conn.commit()
    with connect(server) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT sensor FROM hyprstream_window('rw') ORDER BY 1") == \
            [("a",), ("b",), ("d",), ("e",), ("f",)]
        assert_windows_match_group_by(cur, stack.stored, "rw", "readings", "ts", ["sensor"],
                                      one_minute)



def assert_same_answer(got, want, sql):
    """Same names, types and rows in the same order; doubles equal to 1e-9 (summation order)."""
    assert got.schema == want.schema, sql
    assert got.num_rows == want.num_rows > 0, sql
    assert_rows_match([tuple(r.values()) for r in got.to_pylist()],
                      [tuple(r.values()) for r in want.to_pylist()], sql)


def by_key_since(stored, since, inclusive=False):
    """{key: [values]} of stored (key, time, value) rows after `since`."""
    return trailing(stored, since, inclusive)


def variance(values):
    present = [v for v in values if v is not None]
    return statistics.variance(present) if len(present) > 1 else None


def stddev(values):
    present = [v for v in values if v is not None]
    return statistics.stdev(present) if len(present) > 1 else None


# Trailing GROUP BYs in the SQL DuckDB and PostgreSQL share: (sql, minutes, inclusive, the
# answer from {sym: [px of its rows after the bound]}).
TRAILING_QUERIES = [
    ("""SELECT sym, count(*) AS n, avg(px) AS avg_px FROM ticks
        WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY avg_px DESC""", 60, False,
     lambda g: sorted(((s, len(v), aggregates(v)["avg"]) for s, v in g.items()),
                      key=lambda r: -r[2])),
    ("""SELECT sym, count(px), sum(px), min(px), max(px), variance(px), stddev(px)
        FROM ticks WHERE ts >= now() - INTERVAL '15 minutes' GROUP BY 1 ORDER BY 1""", 15, True,
     lambda g: [(s, *(aggregates(v)[a] for a in ("count", "sum", "min", "max")), variance(v),
                 stddev(v)) for s, v in sorted(g.items())]),
    ("""SELECT count(*) AS n, sym FROM ticks WHERE now() - INTERVAL '30 minutes' < ts
        GROUP BY 2 ORDER BY n DESC, sym LIMIT 2""", 30, False,
     lambda g: sorted(((len(v), s) for s, v in g.items()), key=lambda r: (-r[0], r[1]))[:2]),
]


def test_trailing_window_answers_last_n_minutes_as_of_now(stack):
    """A 'trailing 1h' definition keeps the last hour of rows per key; `WHERE ts > now() -
    INTERVAL ...` GROUP BY queries (and hyprstream_window(..., since :=)) are answered from it
    and equal the engine's answer over the stored rows, with rows out of order, null values,
    null times and a key that went quiet. Rows sit 30 s off whole minutes, so the few seconds
    between two queries cannot move a row across the bound. SQLite has no now(): there the
    direct reads are checked, and a query bounded by a literal gets SQLite's own answer."""
    server = stack.start("--log-level", "debug")
    rng = random.Random(7)
    now = utcnow().replace(microsecond=0)
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE PRECISION, "
                    "qty BIGINT)")
        rows(cur, """SELECT * FROM hyprstream_create_window('tick_stats', 'ticks',
                       keys := 'sym', time_column := 'ts', value_columns := 'px',
                       windows := '1m, trailing 1h',
                       aggregates := 'count(*), count, sum, avg, min, max, var_samp, stddev')""")
        n = 4000
        offsets = [rng.randrange(0, 180) for _ in range(n)]  # minutes ago, in random order
        table = pa.table({
            "sym": [rng.choice(["AAPL", "MSFT", "NVDA", "TSLA"]) for _ in range(n)],
            "ts": pa.array([None if i % 97 == 0 else
                            now - datetime.timedelta(minutes=m, seconds=30)
                            for i, m in enumerate(offsets)], pa.timestamp("us")),
            "px": [None if i % 13 == 0 else round(rng.uniform(10, 500), 2) for i in range(n)],
            "qty": [rng.randrange(1, 100) for _ in range(n)],
        })
        cur.adbc_ingest("ticks", table, mode="append")
        # A key seen only two and a half hours ago: gone from the last hour's answer.
        cur.execute("INSERT INTO ticks VALUES ('IBM', "
                    f"{stack.timestamp(now - datetime.timedelta(minutes=150))}, 1, 1)")
        stored = stack.stored("SELECT sym, ts, px FROM ticks")
        if stack.name != "sqlite":
            for sql, minutes, inclusive, answer in TRAILING_QUERIES:
                before = answered_count(server, "tick_stats")
                since = utcnow() - datetime.timedelta(minutes=minutes)
                cur.execute(sql)
                maintained = cur.fetch_arrow_table()
                assert answered_count(server, "tick_stats") == before + 1, sql
                # `AND true` is not a shape the rewriter takes: the engine computes it.
                cur.execute(sql.replace("GROUP BY", "AND true GROUP BY"))
                computed = cur.fetch_arrow_table()
                assert answered_count(server, "tick_stats") == before + 1
                assert_same_answer(maintained, computed, sql)
                assert_rows_match([tuple(r.values()) for r in maintained.to_pylist()],
                                  answer(by_key_since(stored, since, inclusive)), sql)
                assert "IBM" not in maintained.column("sym").to_pylist()

            # Rows keep arriving: the answer follows them (read-your-writes).
            cur.execute("INSERT INTO ticks VALUES ('AAPL', now()::TIMESTAMP, 1000.0, 1)")
            cur.execute("SELECT max(px) FROM ticks WHERE ts > now() - INTERVAL '5 minutes' "
                        "GROUP BY sym HAVING sym = 'AAPL'")  # HAVING: computed by the engine
            assert cur.fetchall() == [(1000.0,)]
            cur.execute("SELECT sym, max(px) FROM ticks WHERE ts > now() - INTERVAL '5 minutes' "
                        "GROUP BY sym ORDER BY sym")
            assert ("AAPL", 1000.0) in cur.fetchall()
            stored = stack.stored("SELECT sym, ts, px FROM ticks")

            # A bound older than the buffer keeps: the engine answers the query.
            before = answered_count(server, "tick_stats")
            cur.execute("SELECT sym, count(*) FROM ticks WHERE ts > now() - INTERVAL '3 hours' "
                        "GROUP BY sym ORDER BY sym")
            assert dict(cur.fetchall())["IBM"] == 1
            assert answered_count(server, "tick_stats") == before

        # Direct reads: the whole last hour by default, or since a bound.
        since = utcnow() - datetime.timedelta(hours=1)
        cur.execute("SELECT sum(row_count) FROM hyprstream_window('tick_stats', "
                    "width := 'trailing 1h')")
        assert cur.fetchone()[0] == sum(len(v) for v in by_key_since(stored, since).values())
        since = utcnow() - datetime.timedelta(minutes=10)
        cur.execute("SELECT sym, px_count FROM hyprstream_window('tick_stats', "
                    "since := now() - INTERVAL '10 minutes') ORDER BY sym")
        assert dict(cur.fetchall()) == {s: aggregates(v)["count"]
                                        for s, v in by_key_since(stored, since).items()}

        # A bound written as a literal: the engine's own answer (SQLite compares its ISO text
        # as text, so a bound written with a space instead of 'T' means something else there).
        bound = now - datetime.timedelta(minutes=20)
        for literal in (bound.strftime("'%Y-%m-%dT%H:%M:%S'"), f"'{bound}'"):
            sql = (f"SELECT sym, count(px) AS n FROM ticks WHERE ts > {literal} "
                   "GROUP BY sym ORDER BY sym")
            got = rows(cur, sql)
            if stack.name == "sqlite":
                assert got == stack.stored(sql), literal
            else:
                assert got == [(s, aggregates(v)["count"]) for s, v in
                               sorted(by_key_since(stored, bound).items())], literal
        if stack.name == "sqlite":
            assert answered_count(server, "tick_stats") == 0  # SQLite answers its queries

        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.execute("SELECT * FROM hyprstream_window('tick_stats', "
                        "since := now() - INTERVAL '3 hours')")
            cur.fetchall()
        assert "have left the trailing 1h buffer" in str(err.value)
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.execute("SELECT * FROM hyprstream_window('tick_stats', since := 'yesterday-ish')")
            cur.fetchall()
        assert "is not a time" in str(err.value)


# Query shapes in DuckDB's SQL, each with whether the tick_bars definition answers it.
TUMBLE_HOP_CASES = {
    "tumble": ("""SELECT window_start, window_end, sym, count(*) AS n, sum(px) AS total
                  FROM tumble('ticks', 'ts', INTERVAL '5 minutes') GROUP BY ALL
                  ORDER BY window_start, sym""", True),
    "hop": ("""SELECT window_start, window_end, sym, count(*), min(px), max(px)
               FROM hop('ticks', 'ts', INTERVAL '1 minute', INTERVAL '5 minutes')
               GROUP BY ALL ORDER BY window_start, sym""", True),
    "time_bucket": ("""SELECT sym, time_bucket(INTERVAL 1 MINUTE, ts) AS m, max(px), min(px)
                       FROM ticks GROUP BY sym, m ORDER BY m, sym LIMIT 50""", True),
    "aggregate_not_kept": ("""SELECT sym, time_bucket(INTERVAL 1 MINUTE, ts) AS m, avg(px)
                              FROM ticks GROUP BY ALL ORDER BY m, sym""", False),
    "width_not_kept": ("""SELECT sym, time_bucket(INTERVAL 2 MINUTE, ts) AS m, max(px)
                          FROM ticks GROUP BY ALL ORDER BY m, sym""", False),
}


def tick_rows(n):
    return pa.table({
        "sym": [["a", "b", "c"][i % 3] for i in range(n)],
        "ts": pa.array([datetime.datetime(2026, 1, 1) + 7 * i * SECOND for i in range(n)],
                       pa.timestamp("us")),
        "px": [i * 0.5 for i in range(n)],
    })


def tumble_hop_reference(stored, case):
    """The answer of TUMBLE_HOP_CASES[case] over stored (sym, ts, px) rows."""
    minute = datetime.timedelta(minutes=1)
    if case in ("tumble", "hop"):
        width = 5 * minute
        groups = (tumbling(stored, width) if case == "tumble"
                  else hopping(stored, width, minute))
        out = []
        for (sym, start), values in groups.items():
            a = aggregates(values)
            out.append((start, start + width, sym, len(values),
                        *((a["sum"],) if case == "tumble" else (a["min"], a["max"]))))
        return sorted(out, key=sort_key)
    width = 2 * minute if case == "width_not_kept" else minute
    out = []
    for (sym, start), values in tumbling(stored, width).items():
        a = aggregates(values)
        out.append((sym, start, *{"time_bucket": (a["max"], a["min"]),
                                  "aggregate_not_kept": (a["avg"],),
                                  "width_not_kept": (a["max"],)}[case]))
    out.sort(key=lambda r: sort_key((r[1], r[0])))
    return out[:50] if case == "time_bucket" else out


@pytest.mark.parametrize("case", TUMBLE_HOP_CASES)
def test_tumble_hop_and_time_bucket_on_any_table_are_answered_from_windows(stack, case):
    """TUMBLE(...), HOP(...) and time_bucket GROUP BYs over a table with a matching definition are
    answered from the maintained windows and equal the engine's answer over the stored rows; a
    definition without the asked aggregate, or a bucket width it does not keep, leaves the query
    to the engine. SQLite runs none of DuckDB's SQL: tumble()/hop() are refused with a message
    naming --enable-cache, time_bucket is SQLite's own error."""
    sql, from_windows = TUMBLE_HOP_CASES[case]
    server = stack.start("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE PRECISION)")
        rows(cur, """SELECT * FROM hyprstream_create_window('tick_bars', 'ticks',
                       keys := 'sym', time_column := 'ts', value_columns := 'px',
                       windows := '1m, 5m, hopping 5m/1m',
                       aggregates := 'count(*), sum, min, max')""")
        cur.adbc_ingest("ticks", tick_rows(2000), mode="append")
        if not stack.has_duckdb_sql:
            error = "--enable-cache" if case in ("tumble", "hop") else "time_bucket"
            assert_refused_by_the_engine(server, cur, sql, error, "tick_bars")
            return
        stack.wait_mirrored(server, "ticks")
        cur.execute(sql)
        got = cur.fetch_arrow_table()
        assert answered_count(server, "tick_bars") == (1 if from_windows else 0), sql
        cur.execute(sql.replace("GROUP BY", "WHERE true GROUP BY"))
        want = cur.fetch_arrow_table()
        assert_same_answer(got, want, sql)
        stored = stack.stored("SELECT sym, ts, px FROM ticks")
        assert_rows_match([tuple(r.values()) for r in got.to_pylist()],
                          tumble_hop_reference(stored, case), sql)


def test_metrics_rows_that_never_commit_leave_no_trace_in_running_columns(stack):
    """Running columns count only stored rows: metrics rows ingested in a transaction that
    rolls back, or in an ingest whose later batch is rejected, are not counted in the running
    window of rows written afterwards."""
    server = stack.start()
    committed = metrics_table(40, step_s=5, seed=3)
    with connect(server) as conn, conn.cursor() as cur:
        cur.adbc_ingest("metrics", committed, mode="append")
    # Rolled back (the ADBC driver sends bulk ingest outside transactions, so SQL writes):
    # same metrics, times interleaved with the rows that follow.
    with connect(server, autocommit=False) as conn:
        cur = conn.cursor()
        values = ", ".join(f"('{['cpu', 'mem', 'disk'][i % 3]}', "
                           f"{stack.timestamp(BASE + (200 + 5 * i) * SECOND)}, 1e6)"
                           for i in range(40))
        cur.execute(f"INSERT INTO metrics (metric_id, timestamp, value) VALUES {values}")
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) "
                        f"VALUES ({stack.placeholders(3)})",
                        [("cpu", BASE + s * SECOND, 5e6) for s in (230, 260)])
        cur.execute("SELECT count(*) FROM metrics")
        assert cur.fetchone()[0] == 82
        conn.rollback()
    # Rejected: the first two batches are fine (large enough that each is prepared ahead, on
    # a worker, while the one before it is stored), the third has invalid UTF-8 in metric_id.
    good = metrics_table(18000, start=BASE + 201 * SECOND, step_s=1, seed=5)
    bad_ids = pa.Array.from_buffers(pa.utf8(), 1, [None, pa.py_buffer(
        (0).to_bytes(4, "little") + (2).to_bytes(4, "little")), pa.py_buffer(b"\xff\xfe")])
    bad = pa.record_batch([bad_ids, pa.array([BASE], pa.timestamp("ms")), pa.array([5.0])],
                          schema=good.schema)
    good_batches = good.to_batches(max_chunksize=9000)
    assert len(good_batches) == 2
    reader = pa.RecordBatchReader.from_batches(good.schema, good_batches + [bad])
    with connect(server) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_manager.Error, match="(?i)utf-?8"):
            cur.adbc_ingest("metrics", reader, mode="append")
        assert stack.stored("SELECT count(*) FROM metrics") == [(40,)]
        after = metrics_table(40, start=BASE + 202 * SECOND, step_s=5, seed=6)
        cur.adbc_ingest("metrics", after, mode="append")
    got = stored_metrics(stack)
    want = reference_running(pa.concat_tables([committed, after]))
    assert len(got) == len(want) == 80
    assert_running_columns(got, want)


def test_metrics_delete_stops_answers_from_windows_until_they_are_rebuilt(stack):
    """A DELETE on metrics (retention) is allowed, but the windows still count the deleted
    rows: right after it the GROUP BY is computed by the engine, so it answers the stored rows.
    Then the windows are rebuilt in the background and answer again, without the deleted rows:
    embedded from a snapshot of the stored rows, behind the cache (PostgreSQL) from the cache's
    copy, reloaded after the delete. (On SQLite no query is answered from the windows: they
    are rebuilt while writes wait.) Direct reads of the windows then equal the stored rows."""
    server = stack.start("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(600, step_s=3, ids=("a", "b")), mode="append")
        if stack.has_duckdb_sql:
            stack.wait_mirrored(server, "metrics")
            cur.execute(GROUP_BY_5M)
            before = cur.fetch_arrow_table()
            assert answered_count(server, "metrics") == 1
        cur.execute("DELETE FROM metrics WHERE metric_id = 'a'")
        assert stack.stored("SELECT DISTINCT metric_id FROM metrics") == [("b",)]
        if stack.has_duckdb_sql:
            if stack.name == "duckdb":
                # Right after the delete: never the windows' rows of 'a'.
                cur.execute(GROUP_BY_5M)
                assert set(cur.fetch_arrow_table().column("metric_id").to_pylist()) == {"b"}
            stack.wait_mirrored(server, "metrics")
            deadline = time.monotonic() + 30
            while answered_count(server, "metrics") < 2 and time.monotonic() < deadline:
                cur.execute(GROUP_BY_5M)
                after = cur.fetch_arrow_table()
                assert set(after.column("metric_id").to_pylist()) == {"b"}
                time.sleep(0.05)
            assert answered_count(server, "metrics") >= 2, "the windows were not rebuilt"
            cur.execute("SELECT name, state FROM hyprstream_windows() ORDER BY name")
            assert all(state == "answering" for _, state in cur.fetchall())
            cur.execute(GROUP_BY_5M)
            after = cur.fetch_arrow_table()
            assert set(after.column("metric_id").to_pylist()) == {"b"}
            assert after.num_rows * 2 == before.num_rows
            assert_rows_match(sorted((tuple(r.values()) for r in after.to_pylist()),
                                     key=sort_key), group_by_5m_reference(stack))
        # (A direct read waits for the rebuild.)
        assert_windows_match_group_by(cur, stack.stored, "metrics", "metrics", "timestamp",
                                      ["metric_id"], datetime.timedelta(minutes=5))
        assert {r[0] for r in rows(cur, "SELECT metric_id FROM hyprstream_window('metrics', "
                                        "width := '5m')")} == {"b"}


def test_plain_window_reads_equal_duckdb_running_them(stack):
    """`SELECT * | columns FROM hyprstream_window(...)` alone is answered from the window store
    without DuckDB's executor: same columns, types and rows as DuckDB running the same call
    (kept in DuckDB by a WHERE clause; on every stack a DuckDB hosts the window functions) and
    as the GROUP BY of the stored rows; through ADBC (prepared, in and out of a transaction) and
    a plain Flight SQL statement."""
    server = stack.start()
    data = metrics_table(4000, step_s=2, ids=tuple(f"k{i}" for i in range(40)))
    calls = [
        "'metrics', width := '5m', current := 'true'",
        "'metrics', width := '5m', current := true, key := 'k1,k7,none'",
        "'metrics', width := '30m'",
        "'metrics'",
    ]
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", data, mode="append")
        selects = ["*", 'metric_id AS "Key", window_start, window_spec, value_avg AS a, closed']
        for args in calls:
            for select in selects:
                cur.execute(f"SELECT {select} FROM hyprstream_window({args})")
                direct = cur.fetch_arrow_table()
                cur.execute(f"SELECT {select} FROM hyprstream_window({args}) WHERE true")
                through_duckdb = cur.fetch_arrow_table()
                assert direct.schema == through_duckdb.schema, args
                order = [(c, "ascending") for c in direct.schema.names[:3]]
                assert direct.num_rows > 0, args
                assert (direct.sort_by(order).to_pylist() ==
                        through_duckdb.sort_by(order).to_pylist())
        cur.execute("SELECT window_spec FROM hyprstream_window('metrics')")
        specs = cur.fetch_arrow_table().column(0).to_pylist()
        assert set(specs) == {"tumbling 5m", "tumbling 30m", "tumbling 1h", "tumbling 1d"}
        assert rows(cur, "SELECT window_spec, count(*) FROM hyprstream_window('metrics') "
                         "GROUP BY ALL ORDER BY 1") == sorted(
            (s, specs.count(s)) for s in set(specs))
        # The current 5m window equals the GROUP BY of the stored rows in the newest 5m bucket.
        cur.execute("SELECT * FROM hyprstream_window('metrics', width := '5m', "
                    "current := 'true')")
        current = {r["metric_id"]: r for r in cur.fetch_arrow_table().to_pylist()}
    five = datetime.timedelta(minutes=5)
    stored = stack.stored('SELECT metric_id, "timestamp", value FROM metrics')
    newest = max(bucket_start(t, five) for _, t, _ in stored)
    expected = {m: aggregates(v) for (m, start), v in tumbling(stored, five).items()
                if start == newest}
    assert len(expected) == len(current) == 40
    for metric_id, a in expected.items():
        got = current[metric_id]
        assert (got["value_count"], got["value_min"], got["value_max"]) == \
            (a["count"], a["min"], a["max"])
        assert math.isclose(got["value_sum"], a["sum"], rel_tol=1e-9)
    # In a transaction (the DB-API default) and over a plain CommandStatementQuery.
    with connect(server, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute("SELECT * FROM hyprstream_window('metrics', width := '5m', "
                    "current := 'true')")
        assert {r["metric_id"] for r in cur.fetch_arrow_table().to_pylist()} == set(current)
        conn.commit()
    with flight.connect(server.uri) as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            wire.statement_query("SELECT * FROM hyprstream_window('metrics', "
                                 "width := '5m', current := 'true')")))
        table = client.do_get(info.endpoints[0].ticket).read_all()
        assert info.schema == table.schema
        assert {r["metric_id"]: r for r in table.to_pylist()} == current


# --- Defects found by running the suite on every stack: minimal reproductions ----------------

def test_insert_ending_in_a_semicolon_and_comment_feeds_windows(stack):
    """`INSERT ...; -- note` into a table with windows runs as INSERT ... RETURNING * on every
    backend (PostgreSQL refused the `;` left inside the statement its driver wraps)."""
    server = stack.start()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rw', 'readings', keys := 'sensor', "
                  "time_column := 'ts', value_columns := 'value', windows := '1m')")
        cur.execute(f"INSERT INTO readings VALUES ('a', {stack.timestamp(BASE)}, 1.5); -- note")
        assert cur.rowcount == 1
        assert rows(cur, "SELECT sensor, value_count FROM hyprstream_window('rw')") == [("a", 1)]


def test_ingest_the_windows_refuse_is_an_error_not_zero_rows(stack):
    """Metrics rows with integer times and no declared unit are refused on every backend with
    the reason; over ADBC the refusal (an error reading the stream) was taken for a dead
    connection, the ingest retried on another one with the rows already consumed, and the
    client told 0 rows were written, without an error."""
    server = stack.start()
    epoch = pa.table({"metric_id": ["a"], "timestamp": pa.array([1_700_000_000_000]),
                      "value": [1.0]})
    with connect(server) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.ProgrammingError, match="unit is unknown"):
            cur.adbc_ingest("metrics", epoch, mode="append")
    assert stack.stored("SELECT count(*) FROM metrics") == [(0,)]


def test_windows_over_a_table_created_with_sql_and_a_restart_with_empty_metrics(stack):
    """A table created with SQL (declared TIMESTAMP and DOUBLE columns, still empty) takes a
    window definition, and a restart finds the (empty) metrics table it created: SQLite's driver
    types every column of an empty result as int64, which read as 'time column is int64' and
    'metrics exists but is not hyprstream's metrics table'."""
    server = stack.start()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE PRECISION)")
        assert rows(cur, "SELECT name, backfilled_rows FROM hyprstream_create_window('rw', "
                         "'readings', keys := 'sensor', time_column := 'ts', "
                         "value_columns := 'value', windows := '1m')") == [("rw", 0)]
        cur.execute(f"INSERT INTO readings VALUES ('a', {stack.timestamp(BASE)}, 1.5)")
    second = stack.restart()
    with connect(second) as conn, conn.cursor() as cur:
        assert rows(cur, "SELECT sensor, value_sum FROM hyprstream_window('rw')") == \
            [("a", 1.5)]


@pytest.mark.parametrize("stack", ["duckdb", "postgres"], indirect=True)
def test_each_execution_of_a_prepared_query_logs_where_it_was_answered(stack):
    """A prepared query the windows answer is checked again at each execution: once a late row
    reached them it runs on the engine, and the debug log says so for that execution (it said
    "answered from the maintained windows" once, when the statement was prepared, whatever
    each execution did, so a test counting those lines could pass while answers fell back)."""
    server = stack.start("--log-level", "debug")
    with connect(server) as conn, conn.cursor() as cur:
        cur.adbc_ingest("metrics", metrics_table(600, step_s=3, ids=("a", "b")), mode="append")
    stack.wait_mirrored(server, "metrics")
    with flight.connect(server.uri) as client:
        (created,) = client.do_action(flight.Action(
            "CreatePreparedStatement", wire.create_prepared_request(GROUP_BY_5M)))
        descriptor = flight.FlightDescriptor.for_command(
            wire.prepared_query(wire.unpack_any(created.body.to_pybytes())[1][1][0]))

        def execute():
            info = client.get_flight_info(descriptor)
            return client.do_get(info.endpoints[0].ticket).read_all().to_pylist()

        for executions in (1, 2):
            assert len(execute()) == 12
            assert answered_count(server, "metrics") == executions
        late = pa.table({"metric_id": ["a"], "timestamp": pa.array([BASE], pa.timestamp("ms")),
                         "value": [-1.0]})
        with connect(server) as conn, conn.cursor() as cur:
            cur.adbc_ingest("metrics", late, mode="append")
        stack.wait_mirrored(server, "metrics")
        assert min(r["min(\"value\")"] for r in execute()) == -1.0  # counted by the engine
    assert answered_count(server, "metrics") == 2
    assert "window 'metrics' no longer answers exactly: the engine runs the query" in server.log()


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
def test_a_sql_transaction_leaves_the_mirror_ready_with_its_rows(stack):
    """`BEGIN; INSERT ...; COMMIT` sent as SQL into a table with windows behind the cache: once
    it commits, the mirror is ready again and holds the committed rows, so plain queries (which
    the mirror answers) and DuckDB's SQL (time_bucket, from the windows or the mirror) see them.
    The mirror stayed out of use for good (such queries went to PostgreSQL, which has no
    time_bucket), and then, fixed that far, answered without the transaction's rows."""
    server = stack.start()
    buckets = ("SELECT sensor, time_bucket(INTERVAL '1 minute', ts) AS m, count(value) AS n "
               "FROM readings GROUP BY sensor, m ORDER BY sensor")
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rw', 'readings', keys := 'sensor', "
                  "time_column := 'ts', value_columns := 'value', windows := '1m')")
        cur.adbc_ingest("readings", pa.table({"sensor": ["a"], "ts": pa.array([BASE]),
                                              "value": [1.0]}), mode="append")
        stack.wait_mirrored(server, "readings")
        assert rows(cur, buckets) == [("a", BASE, 1)]
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO readings VALUES ('b', {stack.timestamp(BASE + SECOND)}, 2.0)")
        cur.execute("COMMIT")
        stack.wait_mirrored(server, "readings", timeout=10)
        assert rows(cur, "SELECT sensor FROM readings ORDER BY sensor") == [("a",), ("b",)]
        assert rows(cur, buckets) == [("a", BASE, 1), ("b", BASE, 1)]


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_sqlite_text_that_is_not_a_time_is_a_row_without_a_time(stack):
    """SQLite stores any text in a TIMESTAMP column. A row whose time is not ISO 8601 text is,
    to the windows, a row without a time (its other rows still count); it failed the fold of
    its batch (the windows silently missed rows stored with it) and, once stored, the start of
    the server (the back-fill could not read it back)."""
    server = stack.start()
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE r (k VARCHAR, ts TIMESTAMP, v DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('w', 'r', keys := 'k', "
                  "time_column := 'ts', value_columns := 'v', windows := '1m')")
        cur.execute("INSERT INTO r VALUES ('a', '2026-01-01T00:00:10', 1.0), "
                    "('b', 'not a time', 2.0), ('c', '2026-01-01 00:00:20', 3.0)")
        read = "SELECT k, v_count FROM hyprstream_window('w') ORDER BY k"
        assert rows(cur, read) == [("a", 1), ("c", 1)]
    assert "value(s) of column ts are not timestamp[us]" in server.log()
    with connect(stack.restart()) as conn, conn.cursor() as cur:
        assert rows(cur, read) == [("a", 1), ("c", 1)]


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_sqlite_times_written_two_ways_are_rebuilt_in_time_order(stack):
    """SQLite compares its text times as text, and ISO 8601 allows 'T' or a space: rebuilt at a
    start in text order, a row written '2026-01-01T01:00' came after one written
    '2026-01-01 05:00' and was late, so the windows after a restart differed from before."""
    server = stack.start()
    read = "SELECT k, window_start, v_count FROM hyprstream_window('w') ORDER BY 2, 1"
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE r (k VARCHAR, ts TIMESTAMP, v DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('w', 'r', keys := 'k', "
                  "time_column := 'ts', value_columns := 'v', windows := '1h')")
        cur.execute("INSERT INTO r VALUES ('y', '2026-01-01T01:00:00', 1.0)")
        cur.execute("INSERT INTO r VALUES ('x', '2026-01-01 05:00:00', 2.0)")
        before = rows(cur, read)
    assert before == [("y", BASE.replace(hour=1), 1), ("x", BASE.replace(hour=5), 1)]
    with connect(stack.restart()) as conn, conn.cursor() as cur:
        assert rows(cur, read) == before


def test_a_definition_with_one_trailing_window_is_read_without_naming_it(stack):
    """hyprstream_window('name') reads the only window of a definition that has just one
    trailing window (it returned no rows); with several, it asks which one, by name."""
    server = stack.start()
    now = utcnow().replace(microsecond=0)
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE quotes (sym VARCHAR, ts TIMESTAMP, px DOUBLE PRECISION)")
        rows(cur, """SELECT * FROM hyprstream_create_window('last_hour', 'quotes',
                       keys := 'sym', time_column := 'ts', value_columns := 'px',
                       windows := 'trailing 1h')""")
        rows(cur, """SELECT * FROM hyprstream_create_window('two_trailing', 'quotes',
                       keys := 'sym', time_column := 'ts', value_columns := 'px',
                       windows := 'trailing 1h, trailing 10m')""")
        ago = [("a", 5, 1.0), ("a", 20, 2.0), ("b", 50, 4.0), ("b", 90, 8.0), ("c", 100, 16.0)]
        cur.adbc_ingest("quotes", pa.table({
            "sym": [k for k, _, _ in ago],
            "ts": pa.array([now - datetime.timedelta(minutes=m, seconds=30) for _, m, _ in ago],
                           pa.timestamp("us")),
            "px": [v for _, _, v in ago]}), mode="append")
        unnamed = rows(cur, "SELECT sym, px_count, px_sum FROM hyprstream_window('last_hour') "
                            "ORDER BY sym")
        assert [tuple(r) for r in unnamed] == [("a", 2, 3.0), ("b", 1, 4.0)]
        named = rows(cur, "SELECT sym, px_count, px_sum FROM hyprstream_window('last_hour', "
                          "width := 'trailing 1h') ORDER BY sym")
        assert [tuple(r) for r in named] == [tuple(r) for r in unnamed]
        with pytest.raises(adbc_driver_manager.Error) as error:
            rows(cur, "SELECT * FROM hyprstream_window('two_trailing')")
        message = str(error.value)
        assert "several trailing windows" in message and "width := 'trailing 1h'" in message, \
            message
        # Naming one reads it.
        ten = rows(cur, "SELECT sym, px_count FROM hyprstream_window('two_trailing', "
                        "width := 'trailing 10m') ORDER BY sym")
        assert [tuple(r) for r in ten] == [("a", 1)]


@pytest.mark.parametrize("stack", ["duckdb", "postgres"], indirect=True)
def test_a_prepared_trailing_query_reads_now_at_each_execution(stack):
    """A prepared `WHERE ts > now() - INTERVAL ...` GROUP BY answered from a trailing window
    takes the clock at each execution, as the engine does: a row inside the bound when the
    statement is prepared has left it seconds later, and the answer from window state says so
    (it is the engine's answer over the stored rows, both times)."""
    server = stack.start("--log-level", "debug")
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE recent (k VARCHAR, ts TIMESTAMP, v DOUBLE PRECISION)")
        rows(cur, """SELECT * FROM hyprstream_create_window('recent_stats', 'recent',
                       keys := 'k', time_column := 'ts', value_columns := 'v',
                       windows := 'trailing 1h', aggregates := 'count(*), sum')""")
        row_time = utcnow() - datetime.timedelta(seconds=1)
        cur.adbc_ingest("recent", pa.table({
            "k": ["a", "b"], "ts": pa.array([row_time, row_time - datetime.timedelta(minutes=2)],
                                            pa.timestamp("us")), "v": [1.5, 2.5]}),
            mode="append")
    stack.wait_mirrored(server, "recent")
    sql = ("SELECT k, count(*) AS n, sum(v) AS s FROM recent "
           "WHERE ts > now() - INTERVAL '4 seconds' GROUP BY k")
    with flight.connect(server.uri) as client:
        (created,) = client.do_action(flight.Action(
            "CreatePreparedStatement", wire.create_prepared_request(sql)))
        descriptor = flight.FlightDescriptor.for_command(
            wire.prepared_query(wire.unpack_any(created.body.to_pybytes())[1][1][0]))

        def execute():
            info = client.get_flight_info(descriptor)
            return client.do_get(info.endpoints[0].ticket).read_all().to_pylist()

        def engine_answer():
            since = utcnow() - datetime.timedelta(seconds=4)
            stored = stack.stored("SELECT k, ts, v FROM recent")
            return sorted((k, 1, v) for k, ts, v in stored if ts > since)

        first = execute()
        assert [(r["k"], r["n"], r["s"]) for r in first] == engine_answer() == [("a", 1, 1.5)]
        left_the_bound = row_time + datetime.timedelta(seconds=4.5)
        time.sleep(max(0.0, (left_the_bound - utcnow()).total_seconds()))
        assert execute() == [] and engine_answer() == []
    assert answered_count(server, "recent_stats") == 2


def test_readme_query_is_answered_from_metrics_trailing_panes(stack):
    """The README's last-hour query over rows spanning 70 minutes (so its bound splits a pane
    holding rows) is answered from the built-in metrics_trailing definition, and equals the
    engine's answer over the stored rows: at an explicit bound through hyprstream_window (the
    edge read from the table, and from the pane's rows kept on a later read), and verbatim."""
    if not stack.has_duckdb_sql:
        pytest.skip("SQLite answers its own queries (no metrics_trailing there)")
    server = stack.start("--log-level", "debug")
    now = utcnow().replace(microsecond=0)
    data = metrics_table(4200, start=now - datetime.timedelta(minutes=70), step_s=1,
                         ids=tuple(f"m{i}" for i in range(7)))
    with connect(server) as conn:
        cur = conn.cursor()
        assert cur.adbc_ingest("metrics", data, mode="append") == 4200
        assert ("metrics_trailing", "main.metrics") in [
            tuple(r) for r in rows(cur, "SELECT name, \"table\" FROM hyprstream_windows()")]
        for minutes_back in (61, 45, 45, 59.5):  # 45 twice: the kept rows of its pane
            bound = now - datetime.timedelta(minutes=minutes_back, microseconds=250_000)
            micros = (bound - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
            from_windows = rows(cur, "SELECT metric_id, row_count, value_running_window_avg_avg "
                                     "FROM hyprstream_window('metrics_trailing', width := "
                                     f"'trailing 1h', since := {micros}, inclusive := 'true') "
                                     "ORDER BY metric_id")
            # `metric_id IS NOT NULL` keeps the rewriter away: the engine computes it.
            from_engine = rows(cur, "SELECT metric_id, count(*), avg(value_running_window_avg) "
                                    f"FROM metrics WHERE \"timestamp\" >= {stack.timestamp(bound)} "
                                    "AND metric_id IS NOT NULL GROUP BY metric_id ORDER BY metric_id")
            assert len(from_engine) == 7
            assert_rows_match(from_windows, from_engine, f"since {minutes_back} min")
            time.sleep(0.3)  # the background read of the pane's rows
        before = answered_count(server, "metrics_trailing")
        for _ in range(5):
            start = utcnow()
            got = rows(cur, README_QUERY)
            end = utcnow()
            stored = [(m, t) for m, t in zip(data["metric_id"].to_pylist(),
                                             data["timestamp"].to_pylist())]
            if any(start - datetime.timedelta(hours=1) <= t <= end - datetime.timedelta(hours=1)
                   for _, t in stored):
                continue  # a row sat on the moving bound: ask again
            want = rows(cur, "SELECT metric_id, count(*), avg(value_running_window_avg) FROM "
                             f"metrics WHERE \"timestamp\" >= {stack.timestamp(start - datetime.timedelta(hours=1))} "
                             "AND metric_id IS NOT NULL GROUP BY metric_id ORDER BY 3 DESC")
            assert_rows_match(got, want, "README query")
            break
        else:
            pytest.fail("rows kept sitting on the README query's bound")
        assert answered_count(server, "metrics_trailing") > before


def seventy_minutes_of_metrics(stack, rows, step_s, keys, seed, *args):
    """A server (debug log, `args`) holding `rows` metrics rows `step_s` apart over the 70
    minutes before now, keys m0.. cycling: (server, the rows, a bound 50 minutes back)."""
    server = stack.start("--log-level", "debug", *args)
    now = utcnow().replace(microsecond=0)
    data = metrics_table(rows, start=now - datetime.timedelta(minutes=70), step_s=step_s,
                         ids=tuple(f"m{i}" for i in range(keys)), seed=seed)
    with connect(server) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("metrics", data, mode="append") == rows
    return server, data, now - datetime.timedelta(minutes=50)


def assert_trailing_read_equals_brute_force(cur, data, bound, inclusive, what):
    """metrics_trailing's 'trailing 1h' read since `bound` (> or >=) equals a brute force over
    the ingested `data` (a query of this shape over metrics would be answered from the same
    windows)."""
    micros = (bound - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
    from_windows = rows(cur, "SELECT metric_id, row_count, value_count, value_sum, value_min, "
                             "value_max FROM hyprstream_window('metrics_trailing', width := "
                             f"'trailing 1h', since := {micros}, inclusive := "
                             f"'{str(inclusive).lower()}') ORDER BY metric_id")
    want = {}
    for m, t, v in zip(*(data[c].to_pylist() for c in ("metric_id", "timestamp", "value"))):
        if t > bound or (inclusive and t == bound):
            n, s, lo, hi = want.get(m, (0, 0.0, v, v))
            want[m] = (n + 1, s + v, min(lo, v), max(hi, v))
    from_engine = [(m, n, n, s, lo, hi) for m, (n, s, lo, hi) in sorted(want.items())]
    assert len(from_engine) > 0
    assert_rows_match(from_windows, from_engine, what)


@pytest.mark.parametrize("edge_bytes", ["0", "1KiB"])
def test_trailing_reads_without_kept_edge_rows_equal_the_engine(stack, edge_bytes):
    """With --window-edge-cache-bytes 0 (none kept) or below one pane's rows (found too large
    while read, not kept, not read again), reads at bounds all over a pane take its rows from
    the table each time and still equal a brute force over the stored rows."""
    if not stack.has_duckdb_sql:
        pytest.skip("SQLite answers its own queries (no metrics_trailing there)")
    server, data, base = seventy_minutes_of_metrics(stack, 8_400, 0.5, 5, 4,
                                                    "--window-edge-cache-bytes", edge_bytes)
    rng = random.Random(6)
    with connect(server) as conn:
        cur = conn.cursor()
        for i in range(12):
            seconds = rng.uniform(0, 30.5)
            assert_trailing_read_equals_brute_force(
                cur, data, base + datetime.timedelta(seconds=seconds), rng.random() < 0.5,
                f"since +{seconds:.3f} s")
            if i == 0:
                time.sleep(0.5)  # a background read of the pane's rows, if any
    log = server.log()
    assert not re.search(r"trailing pane of window 'metrics_trailing' kept", log)
    # (1 KiB: found too large while read, from at most a few rows more than would fit)
    too_large = re.findall(r"trailing pane of window 'metrics_trailing' not kept: the pane has "
                           r"more than \d+ rows", log)
    assert (len(too_large) > 0) == (edge_bytes != "0"), too_large


def test_trailing_edge_from_kept_rows_with_suffix_states_equals_the_engine(stack):
    """Dense rows (10 a second over 70 minutes, so a 30.5 s pane holds ~300): the kept rows of
    a split pane carry per-key suffix states (the server's log says how many), and reads whose
    bounds fall anywhere in that pane — folding the rows up to the next suffix and merging it —
    equal the engine's answer over the stored rows."""
    if not stack.has_duckdb_sql:
        pytest.skip("SQLite answers its own queries (no metrics_trailing there)")
    server, data, base = seventy_minutes_of_metrics(stack, 42_000, 0.1, 7, 3)
    rng = random.Random(5)
    with connect(server) as conn:
        cur = conn.cursor()
        # The first read asks the table and has the pane's rows read; then bounds all over the
        # pane (and exactly on row times) are answered from the kept rows.
        # 50 in a row on row times (every 0.1 s), `>` or `>=`: some fall right at or after a
        # suffix's first row (one every ~18 rows).
        first = rng.randrange(200)
        offsets = ([0.0, 0.0] + [rng.uniform(0, 30.5) for _ in range(6)] +
                   [(first + k) / 10 for k in range(50)])
        for i, seconds in enumerate(offsets):
            assert_trailing_read_equals_brute_force(cur, data, base + datetime.timedelta(
                seconds=seconds), rng.random() < 0.5, f"since +{seconds:.3f} s")
            if i == 0:
                time.sleep(0.5)  # the background read of the pane's rows
    kept = [int(n) for n in re.findall(r"kept: \d+ rows, \d+ MB, (\d+) suffixes", server.log())]
    assert kept and max(kept) > 0, kept


def test_metrics_trailing_window_is_configurable(stack):
    """--metrics-trailing-window 0 leaves metrics without the trailing definition (the README
    query then runs on the engine, answer unchanged); a narrower one does not answer wider
    bounds."""
    if not stack.has_duckdb_sql:
        pytest.skip("SQLite answers its own queries (no metrics_trailing there)")
    now = utcnow().replace(microsecond=0)
    data = metrics_table(300, start=now - datetime.timedelta(minutes=50), step_s=10)
    for width, listed in (("0", False), ("10m", True)):
        server = stack.start("--metrics-trailing-window", width, "--window-trailing-panes", "7",
                             "--log-level", "debug")
        before = answered_count(server, "metrics_trailing")  # the log may hold earlier starts'
        with connect(server) as conn:
            cur = conn.cursor()
            if not listed:  # the second start finds the rows stored
                cur.adbc_ingest("metrics", data, mode="append")
            names = [r[0] for r in rows(cur, "SELECT name FROM hyprstream_windows()")]
            assert ("metrics_trailing" in names) == listed, names
            got = rows(cur, README_QUERY)
            assert sum(r[1] for r in got) == 300
            assert answered_count(server, "metrics_trailing") == before
            if listed:
                spec = rows(cur, "SELECT spec FROM hyprstream_windows() WHERE name = "
                                 "'metrics_trailing'")[0][0]
                assert "trailing 10m" in spec
                last_5m = ("SELECT metric_id, count(*) AS n FROM metrics WHERE \"timestamp\" > "
                           "now() - INTERVAL '5 minutes' {} GROUP BY metric_id ORDER BY metric_id")
                # Behind the cache a start builds the windows in the background (the engine
                # answers until then); hyprstream_windows() says when they answer.
                state = ("SELECT state FROM hyprstream_windows() "
                         "WHERE name = 'metrics_trailing'")
                deadline = time.monotonic() + 30
                while rows(cur, state) != [("answering",)]:
                    assert stack.name == "postgres" and time.monotonic() < deadline, \
                        rows(cur, state)
                    time.sleep(0.1)
                got = rows(cur, last_5m.format(""))
                assert answered_count(server, "metrics_trailing") == before + 1
                # The engine's answer (rows are 10 s apart: the bound moves past none between).
                assert got == rows(cur, last_5m.format("AND metric_id IS NOT NULL"))
                assert sum(r[1] for r in got) in (29, 30)
        server.stop()


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
def test_reads_of_the_state_alone_answer_while_its_history_is_written(stack):
    """Behind the cache, a rebuilt state is published before its history of closed windows is
    rewritten in PostgreSQL (seconds for a long history). Meanwhile (`writing history`) it
    answers what it holds: the trailing query and a read of the newest windows, with the
    change's rows; a read of every window waits for the history. Here the history is held up
    by a lock another PostgreSQL session keeps on it."""
    import adbc_driver_postgresql.dbapi

    server = stack.start("--log-level", "debug")
    now = utcnow().replace(microsecond=0)
    times = [now - datetime.timedelta(seconds=10 * (180 - i)) for i in range(180)]
    data = pa.table({"sensor": [("a", "b", "c")[i % 3] for i in range(180)],
                     "ts": pa.array(times, pa.timestamp("us")),
                     "value": [float(i % 17) for i in range(180)]})
    state = "SELECT state FROM hyprstream_windows() WHERE name = 'rs'"
    newest = ("SELECT sensor, value_count, value_sum FROM hyprstream_window('rs', "
              "width := '1m', current := 'true') ORDER BY sensor")
    last_hour = ("SELECT sensor, count(value) AS n, sum(value) AS s FROM readings WHERE ts > "
                 "now() - INTERVAL '1 hour' GROUP BY sensor ORDER BY sensor")

    def wait_state(cur, wanted):
        deadline = time.monotonic() + 30
        while rows(cur, state) != [(wanted,)]:
            assert time.monotonic() < deadline, rows(cur, state)
            time.sleep(0.05)

    with connect(server) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE PRECISION)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rs', 'readings', keys := 'sensor', "
                  "time_column := 'ts', value_columns := 'value', "
                  "windows := '1m,trailing 1h')")
        cur.adbc_ingest("readings", data, mode="append")
        stack.wait_mirrored(server, "readings")
        wait_state(cur, "answering")
        history = "SELECT count(*) FROM _hyprstream.rs_history"
        assert stack.stored(history)[0][0] > 0  # (the windows that closed as the rows came)
        with adbc_driver_postgresql.dbapi.connect(stack.postgres_uri()) as pg, \
                pg.cursor() as locker:
            locker.execute("LOCK TABLE _hyprstream.rs_history IN ACCESS EXCLUSIVE MODE")
            cur.execute("DELETE FROM readings WHERE sensor = 'b'")
            wait_state(cur, "writing history")
            kept = [(s, t, v) for s, t, v in zip(*(data[c].to_pylist()
                                                     for c in ("sensor", "ts", "value")))
                    if s != "b"]
            newest_start = bucket_start(max(t for _, t, _ in kept), datetime.timedelta(minutes=1))
            want = {}
            for s, t, v in kept:
                if t >= newest_start:
                    n, total = want.get(s, (0, 0.0))
                    want[s] = (n + 1, total + v)
            assert rows(cur, newest) == [(s, n, total) for s, (n, total) in sorted(want.items())]
            answered = answered_count(server, "rs")
            assert rows(cur, last_hour) == stack.stored(last_hour)
            assert answered_count(server, "rs") == answered + 1
            with connect(server) as other, other.cursor() as waiting:
                every = []
                reader = threading.Thread(target=lambda: every.extend(rows(
                    waiting, "SELECT sensor, count(*) FROM hyprstream_window('rs', "
                             "width := '1m') GROUP BY sensor ORDER BY sensor")))
                reader.start()
                reader.join(0.5)
                assert reader.is_alive(), "a read of every window did not wait for the history"
                pg.rollback()  # the history is written now
                reader.join(30)
                assert not reader.is_alive()
                minutes = {}
                for s, t, _ in kept:
                    minutes.setdefault(s, set()).add(bucket_start(t, datetime.timedelta(minutes=1)))
                assert every == [(s, len(m)) for s, m in sorted(minutes.items())]
        wait_state(cur, "answering")
