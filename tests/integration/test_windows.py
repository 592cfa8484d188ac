"""Real-time windows end to end: the built-in metrics table (running columns computed at
ingest through every path, default tumbling windows), window definitions through SQL on any
table, hop/tumble table functions, late data, restart recovery. Every maintained result is
checked against DuckDB's own GROUP BY over the same stored rows."""
import datetime
import json
import math
import random

import adbc_driver_flightsql.dbapi
import adbc_driver_manager
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire

BASE = datetime.datetime(2026, 1, 1, 12, 0, 0)


def connect(server):
    return adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True)


def rows(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


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


def assert_windows_match_group_by(cur, name, table, time_column, keys, width, value="value"):
    """hyprstream_window(name, width) == DuckDB's GROUP BY over the stored rows."""
    key_list = ", ".join(keys)
    seconds = int(width.total_seconds())
    expected = rows(cur, f"""
        SELECT {key_list}, time_bucket(INTERVAL '{seconds} seconds', {time_column},
                                       TIMESTAMP '1970-01-01') AS ws,
               count({value}), sum({value}), min({value}), max({value})
        FROM {table} GROUP BY ALL ORDER BY ws, {key_list}""")
    got = rows(cur, f"""
        SELECT {key_list}, window_start, {value}_count, {value}_sum, {value}_min, {value}_max
        FROM hyprstream_window('{name}', width := '{seconds}s')
        ORDER BY window_start, {key_list}""")
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[:-3] == e[:-3]
        assert math.isclose(g[-3], e[-3], rel_tol=1e-9, abs_tol=1e-9)
        assert g[-2:] == e[-2:]


def test_readme_query_over_metrics(start_server):
    server = start_server()
    now = datetime.datetime.now().replace(microsecond=0)
    data = metrics_table(60, start=now - datetime.timedelta(minutes=30), step_s=20)
    with connect(server) as conn:
        cur = conn.cursor()
        assert cur.adbc_ingest("metrics", data, mode="append") == 60
        got = rows(cur, """
            SELECT metric_id, COUNT(*) AS samples, AVG(value_running_window_avg) AS avg_value
            FROM metrics WHERE timestamp >= NOW() - INTERVAL '1 hour'
            GROUP BY metric_id ORDER BY avg_value DESC""")
    reference = {}
    for m, _, _, _, avg, _ in reference_running(data):
        reference.setdefault(m, []).append(avg)
    expected = sorted(((m, len(v), sum(v) / len(v)) for m, v in reference.items()),
                      key=lambda r: -r[2])
    assert [r[:2] for r in got] == [r[:2] for r in expected]
    for g, e in zip(got, expected):
        assert math.isclose(g[2], e[2], rel_tol=1e-9)


def test_running_columns_through_every_ingest_path(start_server):
    server = start_server()
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
                        f"VALUES ('{m}', TIMESTAMP '{t}', {v})")
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) VALUES (?, ?, ?)",
                        list(zip(*(parts[3][c].to_pylist() for c in parts[3].column_names))))
        got = rows(cur, "SELECT metric_id, timestamp, value, value_running_window_sum, "
                        "value_running_window_avg, value_running_window_count FROM metrics "
                        "ORDER BY timestamp")
    expected = reference_running(data)
    assert len(got) == len(expected) == 120
    for g, e in zip(got, expected):
        assert g[:3] == e[:3] and g[5] == e[5]
        assert math.isclose(g[3], e[3], rel_tol=1e-9) and math.isclose(g[4], e[4], rel_tol=1e-9)


def test_running_columns_in_a_transaction_follow_commit(start_server):
    server = start_server()
    data = metrics_table(30)
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) VALUES (?, ?, ?)",
                        list(zip(*(data[c].to_pylist() for c in data.column_names))))
        conn.commit()
        got = rows(cur, "SELECT value_running_window_count FROM metrics ORDER BY timestamp")
        assert [g[0] for g in got] == [e[5] for e in reference_running(data)]
        windows = rows(cur, "SELECT sum(value_count) FROM hyprstream_window('metrics', width := '5m')")
        assert windows == [(30,)]


def test_default_metrics_windows_match_group_by(start_server):
    server = start_server()
    data = metrics_table(2000, step_s=13, ids=tuple(f"m{i}" for i in range(17)))
    with connect(server) as conn:
        cur = conn.cursor()
        for batch in data.to_batches(max_chunksize=300):
            cur.adbc_ingest("metrics", pa.Table.from_batches([batch]), mode="append")
        for width in (datetime.timedelta(minutes=5), datetime.timedelta(minutes=30),
                      datetime.timedelta(hours=1), datetime.timedelta(days=1)):
            assert_windows_match_group_by(cur, "metrics", "metrics", "timestamp",
                                          ["metric_id"], width)
        current = rows(cur, "SELECT count(*), bool_or(closed) FROM "
                            "hyprstream_window('metrics', width := '5m', current := 'true')")
        newest = rows(cur, "SELECT count(DISTINCT metric_id) FROM metrics WHERE "
                           "time_bucket(INTERVAL 5 MINUTE, timestamp) = "
                           "(SELECT max(time_bucket(INTERVAL 5 MINUTE, timestamp)) FROM metrics)")
        assert current == [(newest[0][0], False)]
        # key := looks keys up directly; same rows as filtering every key's rows
        for extra in ("", ", current := 'true'"):
            direct = rows(cur, "SELECT * FROM hyprstream_window('metrics', width := '5m', "
                               f"key := 'm3,m5,nope'{extra}) ORDER BY window_start, metric_id")
            filtered = rows(cur, "SELECT * FROM hyprstream_window('metrics', width := '5m'"
                                 f"{extra}) WHERE metric_id IN ('m3', 'm5', 'nope') "
                                 "ORDER BY window_start, metric_id")
            assert direct == filtered and len(direct) > 0


def test_window_definitions_through_sql_on_any_table(start_server):
    server = start_server()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE trades (sym VARCHAR, venue VARCHAR, ts TIMESTAMP_MS, "
                    "price DOUBLE, qty BIGINT)")
        rng = random.Random(7)
        first = pa.table({
            "sym": [rng.choice("ABC") for _ in range(500)],
            "venue": [rng.choice(["x", "y"]) for _ in range(500)],
            "ts": pa.array([BASE + datetime.timedelta(seconds=3 * i) for i in range(500)],
                           pa.timestamp("ms")),
            "price": [rng.uniform(10, 20) for _ in range(500)],
            "qty": [rng.randint(1, 9) for _ in range(500)],
        })
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
        expected = rows(cur, """
            SELECT sym, venue, time_bucket(INTERVAL 1 MINUTE, ts::TIMESTAMP) AS ws,
                   count(price), min(price), max(price), arg_min(price, ts),
                   arg_max(price, ts), stddev_samp(price)
            FROM trades GROUP BY ALL ORDER BY 1, 2, 3""")
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g[:6] == e[:6] and g[6] == e[6] and g[7] == e[7]
            assert (g[8] is None and e[8] is None) or math.isclose(g[8], e[8], rel_tol=1e-9)
        # joins with ordinary tables
        cur.execute("CREATE TABLE symbols AS SELECT 'A' AS sym, 'Alpha' AS name")
        joined = rows(cur, "SELECT DISTINCT name FROM hyprstream_window('trade_bars') "
                           "JOIN symbols USING (sym)")
        assert joined == [("Alpha",)]
        # hopping windows against DuckDB's hop()
        hopped = rows(cur, "SELECT sym, venue, window_start, price_count FROM "
                           "hyprstream_window('trade_bars', width := 'hopping 10m/5m') "
                           "ORDER BY 1, 2, 3")
        reference = rows(cur, "SELECT sym, venue, window_start, count(*) FROM "
                              "hop('trades', 'ts', INTERVAL '5 minutes', INTERVAL '10 minutes') "
                              "GROUP BY ALL ORDER BY 1, 2, 3")
        assert hopped == reference
        assert rows(cur, "SELECT * FROM hyprstream_drop_window('trade_bars')") == \
            [("trade_bars", True)]
        with pytest.raises(adbc_driver_manager.Error, match="does not exist"):
            rows(cur, "SELECT * FROM hyprstream_window('trade_bars')")


def test_bad_window_definitions_are_clear_errors(uri):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
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


def test_integer_timestamps_need_a_declared_unit(start_server):
    server = start_server()
    with connect(server) as conn:
        cur = conn.cursor()
        epoch = pa.table({"metric_id": ["a"], "timestamp": pa.array([1_700_000_000_000]),
                          "value": [1.0]})
        with pytest.raises(adbc_driver_manager.Error, match="unit"):
            cur.adbc_ingest("metrics", epoch, mode="append")
        assert rows(cur, "SELECT count(*) FROM metrics") == [(0,)]
    declared = start_server("--metrics-integer-time-unit", "ms")
    with connect(declared) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", epoch, mode="append")
        assert rows(cur, "SELECT timestamp FROM metrics") == \
            [(datetime.datetime(2023, 11, 14, 22, 13, 20),)]


def test_late_rows_are_stored_and_counted(start_server):
    server = start_server("--window-lateness", "1m")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(100, step_s=10, ids=("a",)), mode="append")
        late = pa.table({"metric_id": ["a"], "timestamp": pa.array([BASE], pa.timestamp("ms")),
                         "value": [1000.0]})
        cur.adbc_ingest("metrics", late, mode="append")
        assert rows(cur, "SELECT count(*) FROM metrics") == [(101,)]
        # Watermark 12:15:30 (max time - 1m): the row is late for its closed 5m window only;
        # the 30m, 1h and 1d windows holding it are still open and count it.
        assert rows(cur, "SELECT late_rows FROM hyprstream_windows() WHERE name = 'metrics'") \
            == [(1,)]
        assert rows(cur, "SELECT value_max FROM hyprstream_window('metrics', width := '30m') "
                         "ORDER BY window_start LIMIT 1") == [(1000.0,)]
        first_window = rows(cur, "SELECT value_count, value_max FROM hyprstream_window("
                                 "'metrics', width := '5m') ORDER BY window_start LIMIT 1")
        assert first_window == [(30, first_window[0][1])] and first_window[0][1] < 1000


def test_window_state_survives_a_restart(start_server, tmp_path):
    path = str(tmp_path / "windows.duckdb")
    first = start_server("--engine-connection", path)
    data = metrics_table(600, step_s=11)
    with connect(first) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", data.slice(0, 400), mode="append")
        cur.execute("CREATE TABLE events (k INTEGER, ts TIMESTAMP, value DOUBLE)")
        cur.execute("INSERT INTO events SELECT range % 5, TIMESTAMP '2026-01-01' + "
                    "INTERVAL (range) SECOND, range FROM range(1000)")
        rows(cur, "SELECT * FROM hyprstream_create_window('ev', 'events', keys := 'k', "
                  "time_column := 'ts', value_columns := 'value', windows := '2m')")
        before = rows(cur, "SELECT * FROM hyprstream_window('ev') ORDER BY 2, 3")
        # A trailing buffer over recent rows, read since a fixed bound before and after.
        cur.execute("CREATE TABLE recent (k INTEGER, ts TIMESTAMP, value DOUBLE)")
        cur.execute("INSERT INTO recent SELECT range % 3, now()::TIMESTAMP - "
                    "INTERVAL (range) SECOND, range FROM range(1200)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rc', 'recent', keys := 'k', "
                  "time_column := 'ts', value_columns := 'value', windows := 'trailing 30m')")
        since = rows(cur, "SELECT epoch_us(max(ts)) - 600000000 FROM recent")[0][0]
        trailing_sql = (f"SELECT k, value_count, value_sum, value_min, value_max "
                        f"FROM hyprstream_window('rc', since := {since}) ORDER BY k")
        trailing = rows(cur, trailing_sql)
        assert sum(r[1] for r in trailing) == 600
    assert first.stop() == 0
    second = start_server("--engine-connection", path)
    with connect(second) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT * FROM hyprstream_window('ev') ORDER BY 2, 3") == before
        assert rows(cur, trailing_sql) == trailing
        cur.adbc_ingest("metrics", data.slice(400, 200), mode="append")
        got = rows(cur, "SELECT value_running_window_count FROM metrics ORDER BY timestamp")
        assert [g[0] for g in got] == [e[5] for e in reference_running(data)]
        assert_windows_match_group_by(cur, "metrics", "metrics", "timestamp", ["metric_id"],
                                      datetime.timedelta(minutes=5))


def test_windows_declared_in_the_config_file(start_server, tmp_path):
    path = str(tmp_path / "cfg.duckdb")
    first = start_server("--engine-connection", path)
    with connect(first) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor INTEGER, read_at TIMESTAMP, temp DOUBLE)")
        cur.execute("INSERT INTO readings SELECT range % 3, TIMESTAMP '2026-01-01' + "
                    "INTERVAL (range * 10) SECOND, range FROM range(360)")
    assert first.stop() == 0
    config = tmp_path / "hyprstream.toml"
    config.write_text('[[windows]]\nname = "temps"\ntable = "readings"\nkeys = ["sensor"]\n'
                      'time_column = "read_at"\nvalue_columns = "temp"\nwindows = ["10m", "30m"]\n'
                      '\n[[windows]]\nname = "later"\ntable = "not_created_yet"\n'
                      'time_column = "read_at"\nvalue_columns = "temp"\n')
    second = start_server("--engine-connection", path, "--config", str(config))
    with connect(second) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT name, rows FROM hyprstream_windows() WHERE name = 'temps'") == \
            [("temps", 360)]
        assert_windows_match_group_by(cur, "temps", "readings", "read_at", ["sensor"],
                                      datetime.timedelta(minutes=10), value="temp")
        assert rows(cur, "SELECT count(*) FROM hyprstream_windows() WHERE name = 'later'") == [(0,)]
    assert "not_created_yet" in second.log()


GROUP_BY_5M = """SELECT metric_id, time_bucket(INTERVAL '5 minutes', timestamp) AS bucket,
       count(value), sum(value) AS total, avg(value), min(value), max(value)
FROM metrics GROUP BY metric_id, bucket"""


def test_group_by_time_bucket_is_answered_from_the_windows(start_server):
    server = start_server("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(3000, step_s=3, ids=("a", "b", "c", "d")),
                        mode="append")
        cur.execute(GROUP_BY_5M)
        maintained = cur.fetch_arrow_table()
        # WHERE true: not a shape the rewriter takes, so DuckDB computes it
        cur.execute(GROUP_BY_5M.replace("FROM metrics", "FROM metrics WHERE true"))
        computed = cur.fetch_arrow_table()
        assert maintained.schema.names == computed.schema.names == \
            ["metric_id", "bucket", "count(\"value\")", "total", "avg(\"value\")",
             "min(\"value\")", "max(\"value\")"]
        assert maintained.schema.types == computed.schema.types
        key = ["metric_id", "bucket"]
        a = maintained.sort_by([(k, "ascending") for k in key]).to_pylist()
        b = computed.sort_by([(k, "ascending") for k in key]).to_pylist()
        assert len(a) == len(b) > 0
        for x, y in zip(a, b):
            assert x["count(\"value\")"] == y["count(\"value\")"] and x["bucket"] == y["bucket"]
            assert math.isclose(x["total"], y["total"], rel_tol=1e-9)
            assert x["min(\"value\")"] == y["min(\"value\")"]
        assert "answered from the maintained windows of 'metrics'" in server.log()
        # a late row for a closed 5m window: the windows no longer equal GROUP BY -> DuckDB
        late = pa.table({"metric_id": ["a"], "timestamp": pa.array([BASE], pa.timestamp("ms")),
                         "value": [1.0]})
        cur.adbc_ingest("metrics", late, mode="append")
        before = server.log().count("answered from the maintained windows of 'metrics'")
        cur2 = conn.cursor()
        cur2.execute(GROUP_BY_5M)
        first = [r for r in cur2.fetch_arrow_table().to_pylist()
                 if r["metric_id"] == "a" and r["bucket"] == BASE][0]
        assert first["min(\"value\")"] == 1.0  # the late row counted, as DuckDB counts it
        assert server.log().count("answered from the maintained windows of 'metrics'") == before


def test_sql_inserts_feed_windows_of_any_table(start_server):
    """INSERT (plain, prepared, in transactions, after WITH, BY NAME) into a table with windows
    reaches them; a rolled-back insert does not; UPDATE/DELETE/upserts and writes in a
    multi-statement string are refused with a clear error rather than leaving the windows
    silently wrong."""
    server = start_server()
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE readings (sensor VARCHAR, ts TIMESTAMP, value DOUBLE)")
        rows(cur, "SELECT * FROM hyprstream_create_window('rw', 'readings', keys := 'sensor', "
                  "time_column := 'ts', value_columns := 'value', windows := '1m')")
        cur.execute("INSERT INTO readings VALUES ('a', TIMESTAMP '2026-01-01 12:00:05', 1.5), "
                    "('b', TIMESTAMP '2026-01-01 12:00:10', 2.5)")
        assert cur.rowcount == 2
        cur.executemany("INSERT INTO readings VALUES (?, ?, ?)",
                        [("a", BASE + datetime.timedelta(seconds=20 + i), float(i)) for i in range(5)])
        # An INSERT after a WITH clause, and one ending in a comment, reach the windows too.
        cur.execute("WITH x AS (SELECT 'e' AS sensor, TIMESTAMP '2026-01-01 12:00:40' AS ts, "
                    "3.0 AS value) INSERT INTO readings SELECT * FROM x")
        cur.execute("INSERT INTO readings BY NAME SELECT 4.0 AS value, 'e' AS sensor, "
                    "TIMESTAMP '2026-01-01 12:00:41' AS ts; -- by name")
        assert_windows_match_group_by(cur, "rw", "readings", "ts", ["sensor"],
                                      datetime.timedelta(minutes=1))
        with pytest.raises(adbc_driver_manager.Error, match="feeds windows"):
            cur.execute("DELETE FROM readings WHERE sensor = 'b'")
        with pytest.raises(adbc_driver_manager.Error, match="feeds windows"):
            cur.execute("UPDATE readings SET value = 0")
        with pytest.raises(adbc_driver_manager.Error, match="feeds windows"):
            cur.execute("INSERT OR REPLACE INTO readings VALUES ('a', TIMESTAMP '2026-01-01 12:00:05', 0)")
        assert rows(cur, "SELECT count(*) FROM readings") == [(9,)]
        # A script: each statement goes its own way, the INSERT into the windows.
        cur.execute("INSERT INTO readings VALUES ('f', TIMESTAMP '2026-01-01 12:00:05', 0); "
                    "SELECT 1")
        assert rows(cur, "SELECT count(*) FROM readings") == [(10,)]
        assert_windows_match_group_by(cur, "rw", "readings", "ts", ["sensor"],
                                      datetime.timedelta(minutes=1))
    # Transactions: folded at commit only.
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:
        cur = conn.cursor()
        cur.execute("INSERT INTO readings VALUES ('c', TIMESTAMP '2026-01-01 12:01:00', 9.0)")
        conn.rollback()
        cur.execute("INSERT INTO readings VALUES ('d', TIMESTAMP '2026-01-01 12:01:30', 4.0)")
        conn.commit()
    with connect(server) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT sensor FROM hyprstream_window('rw') ORDER BY 1") == \
            [("a",), ("b",), ("d",), ("e",), ("f",)]
        assert_windows_match_group_by(cur, "rw", "readings", "ts", ["sensor"],
                                      datetime.timedelta(minutes=1))


REWRITTEN = "answered from the maintained windows of 'tick_stats'"


def assert_same_answer(got, want, sql):
    """Same names, types and rows in the same order; doubles equal to 1e-9 (summation order)."""
    assert got.schema == want.schema, sql
    assert got.num_rows == want.num_rows > 0, sql
    for g, w in zip(got.to_pylist(), want.to_pylist()):
        for k in g:
            if isinstance(w[k], float):
                assert math.isclose(g[k], w[k], rel_tol=1e-9), (sql, k, g, w)
            else:
                assert g[k] == w[k], (sql, k, g, w)


def answered(server):
    return server.log().count(REWRITTEN)


def test_trailing_window_answers_last_n_minutes_as_of_now(start_server):
    """A 'trailing 1h' definition keeps the last hour of rows per key; `WHERE ts > now() -
    INTERVAL ...` GROUP BY queries (and hyprstream_window(..., since :=)) are answered from it
    and equal DuckDB's own answer over the stored rows, with rows out of order, null values,
    null times and a key that went quiet. Rows sit 30 s off whole minutes, so the few seconds
    between two queries cannot move a row across the bound."""
    server = start_server("--log-level", "debug")
    rng = random.Random(7)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE, qty BIGINT)")
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
        # A key seen only two hours ago: gone from the last hour's answer.
        cur.execute("INSERT INTO ticks VALUES ('IBM', now()::TIMESTAMP - INTERVAL 150 MINUTE, 1, 1)")

        queries = [
            """SELECT sym, count(*) AS n, avg(px) AS avg_px FROM ticks
               WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY avg_px DESC""",
            """SELECT sym, count(px), sum(px), min(px), max(px), variance(px), stddev(px)
               FROM ticks WHERE ts >= now() - INTERVAL '15 minutes' GROUP BY ALL ORDER BY 1""",
            """SELECT count(*) AS n, sym FROM ticks WHERE now() - INTERVAL 30 MINUTE < ts
               GROUP BY 2 ORDER BY n DESC, sym LIMIT 2""",
        ]
        for sql in queries:
            before = answered(server)
            cur.execute(sql)
            maintained = cur.fetch_arrow_table()
            assert answered(server) == before + 1, sql
            # `AND true` is not a shape the rewriter takes: DuckDB computes it.
            cur.execute(sql.replace("GROUP BY", "AND true GROUP BY"))
            computed = cur.fetch_arrow_table()
            assert answered(server) == before + 1
            assert_same_answer(maintained, computed, sql)
            assert "IBM" not in maintained.column("sym").to_pylist()

        # Rows keep arriving: the answer follows them (read-your-writes).
        cur.execute("INSERT INTO ticks VALUES ('AAPL', now()::TIMESTAMP, 1000.0, 1)")
        cur.execute("SELECT max(px) FROM ticks WHERE ts > now() - INTERVAL '5 minutes' "
                    "GROUP BY sym HAVING sym = 'AAPL'")  # HAVING: computed by DuckDB
        assert cur.fetchall() == [(1000.0,)]
        cur.execute("SELECT sym, max(px) FROM ticks WHERE ts > now() - INTERVAL '5 minutes' "
                    "GROUP BY sym ORDER BY sym")
        assert ("AAPL", 1000.0) in cur.fetchall()

        # Direct reads: the whole last hour by default, or since a bound.
        cur.execute("SELECT sum(row_count) FROM hyprstream_window('tick_stats', "
                    "width := 'trailing 1h')")
        direct = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM ticks WHERE ts > now() - INTERVAL 1 HOUR AND true")
        assert direct == cur.fetchone()[0]
        cur.execute("SELECT sym, px_count FROM hyprstream_window('tick_stats', "
                    "since := now() - INTERVAL '10 minutes') ORDER BY sym")
        by_sym = dict(cur.fetchall())
        cur.execute("SELECT sym, count(px) FROM ticks WHERE ts > now() - INTERVAL 10 MINUTE "
                    "AND true GROUP BY sym")
        assert by_sym == dict(cur.fetchall())

        # A bound older than the buffer keeps: DuckDB answers the query, and a direct read
        # says why it cannot.
        before = answered(server)
        cur.execute("SELECT sym, count(*) FROM ticks WHERE ts > now() - INTERVAL '3 hours' "
                    "GROUP BY sym ORDER BY sym")
        assert dict(cur.fetchall())["IBM"] == 1
        assert answered(server) == before
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.execute("SELECT * FROM hyprstream_window('tick_stats', "
                        "since := now() - INTERVAL '3 hours')")
            cur.fetchall()
        assert "have left the trailing 1h buffer" in str(err.value)
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.execute("SELECT * FROM hyprstream_window('tick_stats', since := 'yesterday-ish')")
            cur.fetchall()
        assert "is not a time" in str(err.value)


def test_tumble_hop_and_time_bucket_on_any_table_are_answered_from_windows(start_server):
    """TUMBLE(...), HOP(...) and time_bucket GROUP BYs over a table with a matching definition are
    answered from the maintained windows and equal DuckDB's own answer; a definition without
    the asked aggregate, or a bucket width it does not keep, leaves the query to DuckDB."""
    server = start_server("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ticks (sym VARCHAR, ts TIMESTAMP, px DOUBLE)")
        rows(cur, """SELECT * FROM hyprstream_create_window('tick_bars', 'ticks',
                       keys := 'sym', time_column := 'ts', value_columns := 'px',
                       windows := '1m, 5m, hopping 5m/1m',
                       aggregates := 'count(*), sum, min, max')""")
        cur.execute("""INSERT INTO ticks SELECT ['a','b','c'][1 + i % 3],
                       TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i * 7) SECOND, i * 0.5
                       FROM range(2000) t(i)""")
        cases = [
            ("""SELECT window_start, window_end, sym, count(*) AS n, sum(px) AS total
                FROM tumble('ticks', 'ts', INTERVAL '5 minutes') GROUP BY ALL
                ORDER BY window_start, sym""", True),
            ("""SELECT window_start, window_end, sym, count(*), min(px), max(px)
                FROM hop('ticks', 'ts', INTERVAL '1 minute', INTERVAL '5 minutes')
                GROUP BY ALL ORDER BY window_start, sym""", True),
            ("""SELECT sym, time_bucket(INTERVAL 1 MINUTE, ts) AS m, max(px), min(px)
                FROM ticks GROUP BY sym, m ORDER BY m, sym LIMIT 50""", True),
            ("""SELECT sym, time_bucket(INTERVAL 1 MINUTE, ts) AS m, avg(px)
                FROM ticks GROUP BY ALL ORDER BY m, sym""", False),  # avg not kept
            ("""SELECT sym, time_bucket(INTERVAL 2 MINUTE, ts) AS m, max(px)
                FROM ticks GROUP BY ALL ORDER BY m, sym""", False),  # no 2m window
        ]
        for sql, from_windows in cases:
            before = server.log().count("answered from the maintained windows of 'tick_bars'")
            cur.execute(sql)
            got = cur.fetch_arrow_table()
            after = server.log().count("answered from the maintained windows of 'tick_bars'")
            assert after == before + (1 if from_windows else 0), sql
            cur.execute(sql.replace("GROUP BY", "WHERE true GROUP BY"))
            want = cur.fetch_arrow_table()
            assert_same_answer(got, want, sql)


def test_metrics_rows_that_never_commit_leave_no_trace_in_running_columns(start_server):
    """Running columns count only stored rows: metrics rows ingested in a transaction that
    rolls back, or in an ingest whose later batch is rejected, are not counted in the running
    window of rows written afterwards."""
    server = start_server()
    committed = metrics_table(40, step_s=5, seed=3)
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", committed, mode="append")
    # Rolled back (the ADBC driver sends bulk ingest outside transactions, so SQL writes):
    # same metrics, times interleaved with the rows that follow.
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.execute("""INSERT INTO metrics (metric_id, timestamp, value)
                       SELECT ['cpu', 'mem', 'disk'][1 + i % 3],
                              TIMESTAMP '2026-01-01 12:03:20' + INTERVAL (i * 5) SECOND, 1e6
                       FROM range(40) t(i)""")
        cur.executemany("INSERT INTO metrics (metric_id, timestamp, value) VALUES (?, ?, ?)",
                        [("cpu", BASE + datetime.timedelta(seconds=s), 5e6) for s in (230, 260)])
        cur.execute("SELECT count(*) FROM metrics")
        assert cur.fetchone()[0] == 82
        conn.rollback()
    # Rejected: the first batch is fine, the second has invalid UTF-8 in metric_id.
    good = metrics_table(8, start=BASE + datetime.timedelta(seconds=201), step_s=5, seed=5)
    bad_ids = pa.Array.from_buffers(pa.utf8(), 1, [None, pa.py_buffer(
        (0).to_bytes(4, "little") + (2).to_bytes(4, "little")), pa.py_buffer(b"\xff\xfe")])
    bad = pa.record_batch([bad_ids, pa.array([BASE], pa.timestamp("ms")), pa.array([5.0])],
                          schema=good.schema)
    reader = pa.RecordBatchReader.from_batches(good.schema, good.to_batches() + [bad])
    with connect(server) as conn:
        cur = conn.cursor()
        with pytest.raises(adbc_driver_manager.Error):
            cur.adbc_ingest("metrics", reader, mode="append")
        cur.execute("SELECT count(*) FROM metrics")
        assert cur.fetchone()[0] == 40
        after = metrics_table(40, start=BASE + datetime.timedelta(seconds=202), step_s=5, seed=6)
        cur.adbc_ingest("metrics", after, mode="append")
        cur.execute("""SELECT metric_id, timestamp, value, value_running_window_sum,
                              value_running_window_avg, value_running_window_count
                       FROM metrics ORDER BY timestamp""")
        got = cur.fetchall()
    want = reference_running(pa.concat_tables([committed, after]))
    assert len(got) == len(want) == 80
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[5] == w[5], (g, w)
        assert math.isclose(g[3], w[3], rel_tol=1e-9) and math.isclose(g[4], w[4], rel_tol=1e-9)


def test_metrics_delete_stops_answers_from_windows(start_server):
    """A DELETE on metrics (retention) is allowed, but the windows still count the deleted
    rows: from then on the GROUP BY is computed by DuckDB, so it answers the stored rows."""
    server = start_server("--log-level", "debug")
    with connect(server) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_table(600, step_s=3, ids=("a", "b")), mode="append")
        marker = "answered from the maintained windows of 'metrics'"
        cur.execute(GROUP_BY_5M)
        before = cur.fetch_arrow_table()
        assert server.log().count(marker) == 1
        cur.execute("DELETE FROM metrics WHERE metric_id = 'a'")
        cur.execute(GROUP_BY_5M)
        after = cur.fetch_arrow_table()
        assert server.log().count(marker) == 1
        assert set(after.column("metric_id").to_pylist()) == {"b"}
        assert after.num_rows * 2 == before.num_rows


def test_plain_window_reads_equal_duckdb_running_them(start_server):
    """`SELECT * | columns FROM hyprstream_window(...)` alone is answered from the window store
    without DuckDB's executor: same columns, types and rows as DuckDB running the same call
    (kept in DuckDB by a WHERE clause) and as DuckDB's GROUP BY over the stored rows; through ADBC
    (prepared, in and out of a transaction) and a plain Flight SQL statement."""
    server = start_server()
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
        # The current 5m window equals DuckDB's GROUP BY over the newest 5m bucket.
        cur.execute("SELECT * FROM hyprstream_window('metrics', width := '5m', "
                    "current := 'true')")
        current = {r["metric_id"]: r for r in cur.fetch_arrow_table().to_pylist()}
        expected = rows(cur, """
            SELECT metric_id, count(value), sum(value), min(value), max(value)
            FROM metrics WHERE time_bucket(INTERVAL 5 MINUTE, timestamp) =
                (SELECT max(time_bucket(INTERVAL 5 MINUTE, timestamp)) FROM metrics)
            GROUP BY metric_id""")
        assert len(expected) == len(current) == 40
        for metric_id, count, total, low, high in expected:
            got = current[metric_id]
            assert (got["value_count"], got["value_min"], got["value_max"]) == (count, low, high)
            assert math.isclose(got["value_sum"], total, rel_tol=1e-9)
    # In a transaction (the DB-API default) and over a plain CommandStatementQuery.
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:
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
    with connect(second) as conn:
        assert rows(conn.cursor(), "SELECT sensor, value_sum FROM hyprstream_window('rw')") == \
            [("a", 1.5)]


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
    with connect(server) as conn:
        with pytest.raises(adbc_driver_manager.ProgrammingError, match="unit is unknown"):
            conn.cursor().adbc_ingest("metrics", epoch, mode="append")
    assert stack.stored("SELECT count(*) FROM metrics") == [(0,)]
