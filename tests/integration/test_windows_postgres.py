"""Windows over the original configuration: hyprstream in front of a REAL PostgreSQL with the
DuckDB cache (`--engine adbc ... --enable-cache`). The metrics table and the window
definitions live in PostgreSQL; every answer is checked against PostgreSQL's own rows, read
directly with adbc_driver_postgresql."""
import datetime as dt
import math
import os
import random
import re
import subprocess
import threading

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import BINARY, ROOT, free_port
from test_adbc_backend import CREDENTIALS, PG_DRIVER, adbc_args, pg_rows
from test_cache import README_CACHE_FLAGS, ask, name, utcnow, wait_for  # noqa: F401 (fixture)


def rows(uri, sql, autocommit=True):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=autocommit) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def close(got, want):
    """Same rows; floats equal to 1e-9 (summation order differs between engines)."""
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert len(g) == len(w), (g, w)
        for a, b in zip(g, w):
            if isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (g, w)
            else:
                assert a == b, (g, w)


def readme_block(fence, needle):
    text = (ROOT / "README.md").read_text()
    return next(b for b in re.findall(fr"```{fence}\n(.*?)```", text, flags=re.S) if needle in b)


def create_prices_with_window(cur, name, windows):
    """Table `name` (sym, ts, price) made through hyprstream, and window `name`_w over it."""
    cur.execute(f"CREATE TABLE {name} (sym VARCHAR, ts TIMESTAMP, price DOUBLE PRECISION)")
    cur.execute(f"SELECT * FROM hyprstream_create_window('{name}_w', '{name}', keys := 'sym', "
                f"time_column := 'ts', value_columns := 'price', windows := '{windows}')")


@pytest.fixture
def front(postgres, start_server):
    """The README's cache configuration, with debug logs (answers from window state say so)."""
    return start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--log-level", "trace",
                        env=CREDENTIALS)


def test_original_readme_command_and_quick_start_with_windows(postgres, tmp_path):
    """The README's PostgreSQL command run by bash as written (binary, ports and driver path
    substituted), the README's streaming example run as written, then the README's metrics
    query and the current 5m window: equal to what PostgreSQL computes over its own rows."""
    port = free_port()
    script = (readme_block("bash", "--enable-cache")
              .replace("localhost:5432", f"127.0.0.1:{postgres.port}")
              .replace("/usr/local/lib/libadbc_driver_postgresql.so", PG_DRIVER)
              .replace("\nhyprstream ", f"\nexec {BINARY} --port {port} "))
    log = tmp_path / "readme.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPRSTREAM_ENGINE_")}
    proc = subprocess.Popen(["bash", "-c", script], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env)
    uri = f"grpc://127.0.0.1:{port}"
    try:
        def serving():
            try:
                return rows(uri, "SELECT 1") == [(1,)]
            except Exception:  # noqa: BLE001 - not up yet
                return False
        assert wait_for(serving, timeout=30), log.read_text()
        # The README's streaming example, as written.
        stream = readme_block("python", 'for_path("metrics")')
        exec(compile(stream.replace("grpc://localhost:50051", uri), "README.md", "exec"),
             {"pa": pa})
        query = next(s for s in (readme_block("sql", "avg_value").split(";")) if "avg_value" in s)
        got = rows(uri, query)
        want = pg_rows(postgres, """
            SELECT metric_id, count(*) AS samples, avg(value_running_window_avg) AS avg_value
            FROM metrics WHERE timestamp >= (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour'
            GROUP BY metric_id ORDER BY avg_value DESC""")
        close(got, want)
        assert sum(r[1] for r in got) >= 4096
        # PostgreSQL holds complete rows: hyprstream computed the running columns first.
        assert pg_rows(postgres, "SELECT count(*) FROM metrics "
                                 "WHERE value_running_window_count IS NULL") == [(0,)]
        current = rows(uri, "SELECT metric_id, window_start, value_count, value_sum FROM "
                            "hyprstream_window('metrics', width := '5m', current := 'true') "
                            "ORDER BY metric_id")
        buckets = pg_rows(postgres, """
            SELECT metric_id, date_bin('5 minutes', timestamp, TIMESTAMP '1970-01-01') AS ws,
                   count(value), sum(value)
            FROM metrics GROUP BY 1, 2 ORDER BY 1, 2""")
        newest = {}
        for metric, start, count, total in buckets:
            newest[metric] = (metric, start, count, total)
        close(current, [newest[m] for m in sorted(newest)])
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert "secret" not in log.read_text()


def test_windows_answer_group_bys_over_postgres_exactly(front, postgres, name):
    """A window defined over a PostgreSQL table with SQL; INSERTs (autocommit and in a
    transaction), a rollback and ingest reach it; a trailing GROUP BY is answered from its
    state and equals PostgreSQL's own answer."""
    uri = front.uri
    now = utcnow().replace(microsecond=0)
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        create_prices_with_window(cur, name, "1m, trailing 1h")
        cur.execute(f"INSERT INTO {name} VALUES ('a', TIMESTAMP '{now - dt.timedelta(minutes=3)}', 1.5),"
                    f" ('b', TIMESTAMP '{now - dt.timedelta(minutes=2)}', 2.25)")
        cur.adbc_ingest(name, pa.table({
            "sym": ["a", "c"], "ts": pa.array([now - dt.timedelta(minutes=1)] * 2, pa.timestamp("us")),
            "price": [10.0, 7.0]}), mode="append")
    with adbc_driver_flightsql.dbapi.connect(uri) as conn:  # autocommit off
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} VALUES ('a', TIMESTAMP '{now}', 100.0)")
        conn.rollback()
        cur.execute(f"INSERT INTO {name} VALUES ('c', TIMESTAMP '{now}', 0.5)")
        conn.commit()
    query = (f"SELECT sym, count(price) AS n, sum(price) AS total, min(price) AS lo "
             f"FROM {name} WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")
    got = rows(uri, query)
    want = pg_rows(postgres, f"SELECT sym, count(price), sum(price), min(price) FROM {name} "
                             f"WHERE ts > (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour' "
                             f"GROUP BY sym ORDER BY sym")
    close(got, want)
    assert got == [("a", 2, 11.5, 1.5), ("b", 1, 2.25, 2.25), ("c", 2, 7.5, 0.5)]
    assert f"answered from the maintained windows of '{name}_w'" in front.log()
    # The definition is PostgreSQL's to keep.
    assert pg_rows(postgres, f"SELECT table_name FROM _hyprstream.window_definitions "
                             f"WHERE name = '{name}_w'") == [(name,)]
    rows(uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")
    assert pg_rows(postgres, f"SELECT count(*) FROM _hyprstream.window_definitions "
                             f"WHERE name = '{name}_w'") == [(0,)]


def test_restart_with_a_memory_cache_rebuilds_windows_from_postgres(postgres, start_server, name):
    """Definitions and the history of closed windows live in PostgreSQL: a restart with a
    :memory: cache rebuilds the open state from PostgreSQL's rows and loses nothing."""
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    data = pa.table({"sym": [f"k{i % 3}" for i in range(90)],
                     "ts": pa.array([start + dt.timedelta(seconds=20 * i) for i in range(90)],
                                    pa.timestamp("us")),
                     "price": [float(i) for i in range(90)]})
    read = (f"SELECT window_spec, sym, window_start, window_end, price_count, price_sum, closed "
            f"FROM hyprstream_window('{name}_w') ORDER BY window_start, sym")

    first = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, env=CREDENTIALS)
    with adbc_driver_flightsql.dbapi.connect(first.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.adbc_ingest(name, data, mode="create")
        cur.execute(f"SELECT * FROM hyprstream_create_window('{name}_w', '{name}', keys := 'sym', "
                    "time_column := 'ts', value_columns := 'price', windows := '5m')")
        cur.execute(read)
        before = cur.fetchall()
    assert any(r[-1] for r in before), "some windows closed (their rows are history)"
    assert pg_rows(postgres, f"SELECT count(*) > 0 FROM _hyprstream.{name}_w_history") == [(True,)]
    assert first.stop() == 0

    second = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, env=CREDENTIALS)
    after = rows(second.uri, read)
    assert after == before
    want = pg_rows(postgres, f"""
        SELECT sym, date_bin('5 minutes', ts, TIMESTAMP '1970-01-01') AS ws, count(price),
               sum(price) FROM {name} GROUP BY 1, 2 ORDER BY 2, 1""")
    close([(r[1], r[2], r[4], r[5]) for r in after], want)
    rows(second.uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")


def want_sql(name):
    return (f"SELECT sym, count(price), sum(price) FROM {name} "
            f"WHERE ts > (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")


def test_rows_others_write_into_postgres_reach_windows_after_a_refresh(postgres, start_server,
                                                                        name):
    server = start_server(*adbc_args(postgres), *README_CACHE_FLAGS,
                          "--cache-refresh-interval", "1s", env=CREDENTIALS)
    now = utcnow().replace(microsecond=0)
    uri = server.uri
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.adbc_ingest(name, pa.table({
            "sym": ["a", "b"], "ts": pa.array([now - dt.timedelta(minutes=5)] * 2, pa.timestamp("us")),
            "price": [1.0, 2.0]}), mode="create")
        cur.execute(f"SELECT * FROM hyprstream_create_window('{name}_w', '{name}', keys := 'sym', "
                    "time_column := 'ts', value_columns := 'price', windows := 'trailing 1h')")
    # Another writer, straight into PostgreSQL.
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as direct:
        cur = direct.cursor()
        cur.execute(f"INSERT INTO {name} VALUES ('a', TIMESTAMP '{now - dt.timedelta(minutes=1)}', 5.0), "
                    f"('c', TIMESTAMP '{now}', 7.0)")
        direct.commit()
    window = (f"SELECT sym, price_count, price_sum FROM hyprstream_window('{name}_w', "
              f"width := 'trailing 1h') ORDER BY sym")
    assert wait_for(lambda: rows(uri, window) == [("a", 2, 6.0), ("b", 1, 2.0), ("c", 1, 7.0)],
                    timeout=30), rows(uri, window)
    query = (f"SELECT sym, count(price) AS n, sum(price) AS s FROM {name} "
             f"WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")
    got, provenance = ask(uri, query)
    close([tuple(r.values()) for r in got], pg_rows(postgres, want_sql(name)))
    # From window state, as current as the cache's last refresh of the table.
    assert provenance["source"] == "windows" and provenance["cache"] == "hit"
    as_of = dt.datetime.fromisoformat(provenance["as_of"].rstrip("Z"))
    assert now - dt.timedelta(seconds=5) <= as_of <= utcnow()
    # A bound on staleness bounds answers from window state too: 0 always asks PostgreSQL,
    # which already has the row another writer just added.
    pg_insert(postgres, name, [("d", now, 3.0)])
    got, provenance = ask(uri, query, headers=[("x-hyprstream-max-staleness", "0")])
    assert provenance["source"] == "backend"
    close([tuple(r.values()) for r in got], pg_rows(postgres, want_sql(name)))
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        conn.adbc_connection.set_options(
            **{"adbc.flight.sql.session.option.hyprstream.max_staleness": "0"})
        cur = conn.cursor()
        pg_insert(postgres, name, [("e", now, 4.0)])
        cur.execute(query)
        got = cur.fetchall()
        assert got[-1] == ("e", 1, 4.0)
        close(got, pg_rows(postgres, want_sql(name)))
    rows(uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")


def windows_answer(uri, query, since):
    """The rows of `query` once they are answered from window state as of `since` or later
    (the cache's copy has caught up with what was committed before `since`); None if they
    never are."""
    answer = {}

    def answered():
        got, provenance = ask(uri, query)
        as_of = dt.datetime.fromisoformat(provenance.get("as_of", "1970-01-01").rstrip("Z"))
        answer["rows"] = [tuple(r.values()) for r in got]
        return provenance.get("source") == "windows" and as_of >= since
    return answer["rows"] if wait_for(answered, timeout=30) else None


TRAILING = ("SELECT sym, count(price) AS n, sum(price) AS s, max(price) AS hi FROM {t} "
            "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")
TRAILING_PG = ("SELECT sym, count(price), sum(price), max(price) FROM {t} "
               "WHERE ts > (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")


def pg_insert(postgres, table, rows):
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as direct:
        cur = direct.cursor()
        values = ", ".join(f"('{s}', TIMESTAMP '{t}', {v})" for s, t, v in rows)
        cur.execute(f"INSERT INTO {table} VALUES {values}")
        direct.commit()


def test_windows_follow_a_table_only_others_write_and_after_a_restart(postgres, start_server,
                                                                        name):
    """A window over a PostgreSQL table nothing was ever ingested into through hyprstream: the
    cache mirrors it for the window (built from the mirror), so rows others write later reach
    the window; after a restart with an empty cache, likewise. Every answer from window state
    equals PostgreSQL's own."""
    now = utcnow().replace(microsecond=0)
    with adbc_driver_postgresql.dbapi.connect(postgres.uri) as direct:
        cur = direct.cursor()
        cur.execute(f"CREATE TABLE {name} (sym TEXT, ts TIMESTAMP, price DOUBLE PRECISION)")
        direct.commit()
    pg_insert(postgres, name, [("a", now - dt.timedelta(minutes=40), 1.0),
                               ("b", now - dt.timedelta(minutes=30), 2.0)])
    flags = (*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-refresh-interval", "1s")
    server = start_server(*flags, env=CREDENTIALS)
    rows(server.uri, f"SELECT * FROM hyprstream_create_window('{name}_w', '{name}', "
                     "keys := 'sym', time_column := 'ts', value_columns := 'price', "
                     "windows := 'trailing 1h')")
    query, want = TRAILING.format(t=name), TRAILING_PG.format(t=name)
    pg_insert(postgres, name, [("a", now - dt.timedelta(minutes=2), 5.0),
                               ("c", now - dt.timedelta(minutes=1), 7.0)])
    close(windows_answer(server.uri, query, utcnow()), pg_rows(postgres, want))
    assert server.stop() == 0

    pg_insert(postgres, name, [("c", now - dt.timedelta(seconds=30), 9.0)])
    since = utcnow()
    server = start_server(*flags, env=CREDENTIALS)
    close(windows_answer(server.uri, query, since), pg_rows(postgres, want))
    pg_insert(postgres, name, [("d", now, 11.0)])
    got = windows_answer(server.uri, query, utcnow())
    close(got, pg_rows(postgres, want))
    assert [r[0] for r in got] == ["a", "b", "c", "d"]
    rows(server.uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")


def test_randomised_writers_and_others_agree_with_postgres(postgres, start_server, name):
    """Randomised differential test over a real PostgreSQL: in each round hyprstream clients
    write (ingest, INSERT, transactions committed or rolled back) while another client writes
    straight into PostgreSQL (rows newer than hyprstream's: the cache's append refresh copies
    rows newer than its newest); then the trailing GROUP BY answered from window state must
    equal PostgreSQL's own answer."""
    rng = random.Random(7)
    server = start_server(*adbc_args(postgres), *README_CACHE_FLAGS,
                          "--cache-refresh-interval", "1s", env=CREDENTIALS)
    uri = server.uri
    start = utcnow().replace(microsecond=0)
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        create_prices_with_window(conn.cursor(), name, "trailing 1h")
    others_clock = start - dt.timedelta(minutes=20)
    syms = ["a", "b", "c", "d"]

    def row():
        return (rng.choice(syms), start - dt.timedelta(minutes=50, seconds=-rng.randrange(1200)),
                float(rng.randrange(100)))

    errors = []

    def hyprstream_writes(ops):
        try:
            write(ops)
        except Exception as e:  # noqa: BLE001 - reported by the test's thread
            errors.append(e)

    def write(ops):
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as auto, \
                adbc_driver_flightsql.dbapi.connect(uri) as manual:
            for op in ops:
                if op == "ingest":
                    batch = [row() for _ in range(3)]
                    auto.cursor().adbc_ingest(name, pa.table({
                        "sym": [r[0] for r in batch],
                        "ts": pa.array([r[1] for r in batch], pa.timestamp("us")),
                        "price": [r[2] for r in batch]}), mode="append")
                elif op == "insert":
                    s, t, v = row()
                    auto.cursor().execute(f"INSERT INTO {name} VALUES ('{s}', TIMESTAMP '{t}', {v})")
                else:
                    s, t, v = row()
                    manual.cursor().execute(
                        f"INSERT INTO {name} VALUES ('{s}', TIMESTAMP '{t}', {v})")
                    manual.commit() if op == "commit" else manual.rollback()

    query, want = TRAILING.format(t=name), TRAILING_PG.format(t=name)
    for _ in range(4):
        ops = [rng.choice(["ingest", "insert", "commit", "rollback"]) for _ in range(8)]
        writer = threading.Thread(target=hyprstream_writes, args=(ops,))
        writer.start()
        for _ in range(3):
            others_clock += dt.timedelta(seconds=1)
            pg_insert(postgres, name, [(rng.choice(syms), others_clock, float(rng.randrange(100)))])
        writer.join()
        assert not errors, errors
        since = utcnow()
        got = windows_answer(uri, query, since)
        assert got is not None, "window state never answered again"
        close(got, pg_rows(postgres, want))
    rows(uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")


def test_an_insert_prepared_before_the_window_feeds_it(front, postgres, name):
    """A client prepares an INSERT, runs it, and keeps running it after a window is defined
    on its table (from another session): the window gets every row it stores, and answers
    from its state equal PostgreSQL's. (Behind the cache a plain INSERT no longer makes the
    cache reload the table, so nothing else would bring those rows to the window.) A DELETE
    prepared before the window runs as one prepared now: the cache reloads its copy and the
    window is rebuilt from it."""
    now = utcnow().replace(microsecond=0)
    insert = f"INSERT INTO {name} VALUES ($1, $2, $3)"
    with adbc_driver_flightsql.dbapi.connect(front.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {name} (sym VARCHAR, ts TIMESTAMP, price DOUBLE PRECISION)")
        cur.adbc_prepare(insert)
        cur.execute(insert, ("a", now - dt.timedelta(minutes=3), 1.0))
        delete = f"DELETE FROM {name} WHERE price < $1"
        remover = conn.cursor()
        remover.adbc_prepare(delete)
        rows(front.uri, f"SELECT * FROM hyprstream_create_window('{name}_w', '{name}', "
                        "keys := 'sym', time_column := 'ts', value_columns := 'price', "
                        "windows := 'trailing 1h')")
        for sym, minutes, price in [("a", 2, 2.0), ("b", 1, 5.0), ("c", 0, 7.0)]:
            cur.execute(insert, (sym, now - dt.timedelta(minutes=minutes), price))
        query, want = TRAILING.format(t=name), TRAILING_PG.format(t=name)
        # (Any answer from window state: every row was written through hyprstream, and folded
        # before its INSERT returned.)
        got = windows_answer(front.uri, query, now - dt.timedelta(hours=1))
        assert got is not None, "window state never answered"
        close(got, pg_rows(postgres, want))
        assert [r[:2] for r in got] == [("a", 2), ("b", 1), ("c", 1)]
        deleting = utcnow()
        remover.execute(delete, (1.5,))
    assert pg_rows(postgres, f"SELECT count(*) FROM {name}") == [(3,)]
    got = windows_answer(front.uri, query, deleting)
    assert got is not None, "window state never answered after the DELETE"
    close(got, pg_rows(postgres, want))
    assert [r[:2] for r in got] == [("a", 1), ("b", 1), ("c", 1)]
    rows(front.uri, f"SELECT * FROM hyprstream_drop_window('{name}_w')")
