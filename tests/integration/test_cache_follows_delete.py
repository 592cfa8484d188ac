"""Behind the DuckDB cache in front of a REAL PostgreSQL (the README's configuration), a DELETE
that removes only a table's oldest rows (a retention DELETE) is followed by the cache's copy
and by the windows built from it, instead of the copy being reloaded whole and the windows
rebuilt from it. Every answer the cache gives is checked against PostgreSQL's own rows, read
directly with adbc_driver_postgresql."""
import datetime as dt

import adbc_driver_flightsql.dbapi
import pyarrow as pa

from test_cache import README_CACHE_FLAGS, ask, utcnow, wait_for
from test_windows_postgres import close, rows
from test_windows_postgres_direct import (METRICS_5M, METRICS_5M_PG, README_QUERY, README_QUERY_PG,
                                          RETENTION, UPDATE_OLD_ROWS, MetricsWriter,
                                          RandomRetention, answered,
                                          assert_windows_answer_as_postgresql,
                                          direct,  # noqa: F401 (a fixture)
                                          old_and_recent_metrics, states, wait_answering)

COPY_SUMMARY = ("SELECT metric_id, count(*) AS n, min(timestamp) AS oldest, sum(value) AS total "
                "FROM metrics GROUP BY metric_id ORDER BY metric_id")


def cache_stats(server):
    return dict(rows(server.uri, "SELECT name, value FROM hyprstream_cache_stats()"))


def copy_state(server, table):
    return dict(rows(server.uri, "SELECT table_name, state FROM hyprstream_cache_tables()")).get(
        table)


def copy_loads(server, table):
    return dict(rows(server.uri, "SELECT table_name, loads FROM hyprstream_cache_tables()"))[table]


def from_the_copy(server, sql):
    """The rows of `sql`, which the cache's copy must answer."""
    got, provenance = ask(server.uri, sql)
    assert provenance["source"] == "cache", provenance
    return [tuple(r.values()) for r in got]


def assert_copy_equals_postgresql(server, direct):
    close(from_the_copy(server, COPY_SUMMARY),
          direct.stored("SELECT metric_id, count(*), min(timestamp), sum(value) FROM metrics "
                        "GROUP BY metric_id ORDER BY metric_id"))


def test_a_retention_delete_is_followed_by_the_cache_and_its_windows(direct):
    """Beside a writer, a retention DELETE through the README configuration leaves the cache's
    copy answering as it returns, with exactly PostgreSQL's rows (no reload), and the windows
    built from the copy answering without a rebuild: every 5m window, history included, and the
    README query equal PostgreSQL's answers over the rows left."""
    server = direct.start(*README_CACHE_FLAGS)
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)  # 50 hours from 3 days ago
    assert set(wait_answering(server).values()) == {"answering"}
    assert wait_for(lambda: copy_state(server, "metrics") == "ready")
    loads = copy_loads(server, "metrics")

    with MetricsWriter(server) as writer:
        assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                             "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'")[0][0] >= 100
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            conn.cursor().execute(RETENTION)
        # As the DELETE returned: the copy and the windows answer.
        assert copy_state(server, "metrics") == "ready"
        assert set(states(server).values()) == {"answering"}, server.log()[-3000:]
        writer.settle()
    log = server.log()
    assert "the cache of metrics followed the DELETE of its rows WHERE" in log, log[-3000:]
    for name in ("metrics", "metrics_trailing"):
        assert f"window '{name}' followed the DELETE of the rows of main.metrics before" in log
    after = log.split("followed the DELETE", 1)[1]
    assert "rebuilt" not in after and "invalidated" not in after, after[-3000:]
    assert copy_loads(server, "metrics") == loads
    assert cache_stats(server)["mirror_deletes_followed"] == 1
    assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                         "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'") == [(0,)]

    assert_copy_equals_postgresql(server, direct)
    assert_windows_answer_as_postgresql(server, direct, now - dt.timedelta(days=1))


def readings_table(server, n, start):
    """Table readings (ts, sensor, value) through hyprstream (mirrored as it is created) with n
    rows a minute apart from `start`, no window over it."""
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().adbc_ingest("readings", pa.table({
            "ts": pa.array([start + dt.timedelta(minutes=i) for i in range(n)],
                           pa.timestamp("us")),
            "sensor": [f"s{i % 5}" for i in range(n)],
            "value": [float(i % 13) for i in range(n)]}), mode="create")


READINGS = "SELECT sensor, count(*) AS n, min(ts) AS oldest, sum(value) AS total FROM readings " \
           "GROUP BY sensor ORDER BY sensor"
READINGS_PG = "SELECT sensor, count(*), min(ts), sum(value) FROM readings " \
              "GROUP BY sensor ORDER BY sensor"


def test_the_cache_follows_a_retention_delete_and_reloads_after_any_other(direct):
    """Without windows, the copy of a table follows a DELETE of its oldest rows (it keeps
    answering, no reload), one that removes nothing, and a prepared one with the bound as a
    parameter, run twice; it is reloaded after a DELETE of other rows or one in a client's
    transaction. Its answers equal PostgreSQL's after each."""
    server = direct.start(*README_CACHE_FLAGS)
    start = utcnow().replace(microsecond=0) - dt.timedelta(days=2)
    readings_table(server, 2000, start)
    assert wait_for(lambda: copy_state(server, "readings") == "ready")
    loads = copy_loads(server, "readings")

    def execute(sql, autocommit=True):
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=autocommit) as conn:
            cur = conn.cursor()
            cur.execute(sql)
            if not autocommit:
                conn.commit()

    # The oldest 300 rows: followed.
    execute(f"DELETE FROM readings WHERE ts < '{start + dt.timedelta(minutes=300)}'")
    assert copy_state(server, "readings") == "ready"
    close(from_the_copy(server, READINGS), direct.stored(READINGS_PG))
    assert copy_loads(server, "readings") == loads
    assert cache_stats(server)["mirror_deletes_followed"] == 1
    assert "the cache of readings followed the DELETE of its rows WHERE \"ts\" < TIMESTAMP '" \
           f"{start + dt.timedelta(minutes=300)}.000000' (300 rows;" in server.log()

    # A DELETE before the oldest row removes nothing: followed too.
    execute(f"DELETE FROM readings WHERE ts < '{start}'")
    assert cache_stats(server)["mirror_deletes_followed"] == 2
    # Prepared with the bound as a parameter, run twice (the second removes nothing).
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        for _ in range(2):
            cur.execute("DELETE FROM readings WHERE ts < $1",
                        (start + dt.timedelta(minutes=400),))
    assert cache_stats(server)["mirror_deletes_followed"] == 4
    close(from_the_copy(server, READINGS), direct.stored(READINGS_PG))
    assert direct.stored("SELECT count(*) FROM readings")[0][0] == 1600

    # Not the oldest rows (one sensor's): reloaded, then equal again.
    execute("DELETE FROM readings WHERE sensor = 's3'")
    assert wait_for(lambda: copy_loads(server, "readings") == loads + 1
                    and copy_state(server, "readings") == "ready")
    assert cache_stats(server)["mirror_deletes_followed"] == 4
    close(from_the_copy(server, READINGS), direct.stored(READINGS_PG))

    # In a client's transaction: written around the copy, reloaded after the commit.
    execute(f"DELETE FROM readings WHERE ts < '{start + dt.timedelta(minutes=600)}'",
            autocommit=False)
    assert wait_for(lambda: copy_loads(server, "readings") == loads + 2
                    and copy_state(server, "readings") == "ready")
    assert cache_stats(server)["mirror_deletes_followed"] == 4
    close(from_the_copy(server, READINGS), direct.stored(READINGS_PG))


def test_random_deletes_behind_the_cache_leave_answers_equal_to_postgresql(direct):
    """Randomised differential test of the cache's copy and its windows following DELETEs: rows
    of random metrics at random times over three days arrive in rounds, through hyprstream and
    (some) written directly into PostgreSQL, which the copy's refresh brings in; after each
    round a DELETE of a random kind: before the oldest row, at a random bound in the old rows,
    into today's rows, or of one metric. After each, the copy's answers, every 5m window and the
    README query equal PostgreSQL's answers over the rows left."""
    retention = RandomRetention()
    rng = retention.rng
    server = direct.start(*README_CACHE_FLAGS, "--cache-refresh-interval", "1s")
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        for what, kind, chunk, table in retention.rounds():
            cur.adbc_ingest("metrics", table, mode="append")
            # Others' rows, just after the round's, reach the copy with its next refresh.
            direct.stored("INSERT INTO metrics (metric_id, timestamp, value) VALUES " + ", ".join(
                f"('{rng.choice(retention.ids)}', "
                f"'{chunk[-1] + dt.timedelta(milliseconds=i + 1)}', "
                f"{round(rng.uniform(-50, 50), 2)})" for i in range(3)) + " RETURNING 1")
            total = direct.stored("SELECT count(*) FROM metrics")[0][0]
            assert wait_for(lambda: from_the_copy(server, "SELECT count(*) FROM metrics")
                            == [(total,)]), what
            assert set(wait_answering(server).values()) == {"answering"}, what
            assert wait_for(lambda: copy_state(server, "metrics") == "ready"), what
            oldest = direct.stored("SELECT min(timestamp) FROM metrics")[0][0]
            sql = retention.delete(kind, chunk, oldest)
            followed = cache_stats(server)["mirror_deletes_followed"]
            cur.execute(sql)
            if kind in ("nothing", "old", "today"):
                assert cache_stats(server)["mirror_deletes_followed"] == followed + 1, what
            else:
                assert cache_stats(server)["mirror_deletes_followed"] == followed, what
            assert set(wait_answering(server).values()) == {"answering"}, what
            assert wait_for(lambda: copy_state(server, "metrics") == "ready"), what
            assert_copy_equals_postgresql(server, direct)
            close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
            answered_before = answered(server, "metrics_trailing")
            got = rows(server.uri, README_QUERY)
            assert answered(server, "metrics_trailing") == answered_before + 1, what
            close(got, direct.stored(README_QUERY_PG))
    assert "window 'metrics' followed the DELETE" in server.log(), f"seed {retention.seed}"


def test_rows_written_while_a_followed_delete_runs_are_kept(direct):
    """A row written through hyprstream while the retention DELETE runs (it waits here for
    another session's row lock) is in neither the DELETE's snapshot nor the copy's: PostgreSQL
    keeps it, even though it is old enough to be deleted, and so does the copy, which follows
    the DELETE. The copy's answers equal PostgreSQL's."""
    server = direct.start(*README_CACHE_FLAGS)
    start = utcnow().replace(microsecond=0) - dt.timedelta(days=2)
    readings_table(server, 2000, start)
    assert wait_for(lambda: copy_state(server, "readings") == "ready")
    bound = start + dt.timedelta(minutes=300)
    late = pa.table({"ts": pa.array([start + dt.timedelta(minutes=5, seconds=30)],
                                    pa.timestamp("us")),
                     "sensor": ["late"], "value": [1000.0]})


    def write_a_late_row():
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            conn.cursor().adbc_ingest("readings", late, mode="append")

    # (Rolled back: no change to the locked row, the DELETE goes on.)
    direct.run_waiting_for_locks(server, f"DELETE FROM readings WHERE ts < '{bound}'",
                                 f"SELECT * FROM readings WHERE ts = '{start}' FOR UPDATE",
                                 lambda other: other.rollback(), write_a_late_row)
    assert direct.stored("SELECT sensor, value FROM readings WHERE ts < "
                         f"'{bound}'") == [("late", 1000.0)]
    assert cache_stats(server)["mirror_deletes_followed"] == 1, server.log()[-3000:]
    assert copy_state(server, "readings") == "ready"
    close(from_the_copy(server, READINGS), direct.stored(READINGS_PG))
    assert from_the_copy(server, f"SELECT sensor FROM readings WHERE ts < '{bound}'") == [
        ("late",)]


def test_a_delete_that_loses_to_another_write_runs_again_behind_the_cache(direct):
    """The followed DELETE's REPEATABLE READ transaction fails where another session changed
    the same rows meanwhile; the client's DELETE then runs again and succeeds. Its second run is
    followed by the copy; the windows (whose watch was rolled back with the first) are rebuilt
    from it. The copy, every 5m window and the README query equal PostgreSQL's answers."""
    server = direct.start(*README_CACHE_FLAGS)
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)
    assert set(wait_answering(server).values()) == {"answering"}
    assert wait_for(lambda: copy_state(server, "metrics") == "ready")

    direct.run_waiting_for_locks(server, RETENTION, UPDATE_OLD_ROWS, lambda other: other.commit())
    log = server.log()
    assert "(SQLSTATE 40001)); running it again" in log, log[-3000:]
    assert "the cache of metrics followed the DELETE of its rows WHERE" in log, log[-3000:]
    assert cache_stats(server)["mirror_deletes_followed"] == 1
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    assert copy_state(server, "metrics") == "ready"
    assert_copy_equals_postgresql(server, direct)
    close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
    close(rows(server.uri, README_QUERY), direct.stored(README_QUERY_PG))


def test_with_a_horizon_the_copy_and_the_windows_follow_a_retention_delete(direct):
    """With --cache-max-duration the copy holds the last day only and the windows are built from
    PostgreSQL's rows; a retention DELETE is followed by both (the copy deletes what it holds of
    those rows: none), and the copy's answers for the last day, every 5m window and the README
    query equal PostgreSQL's."""
    server = direct.start(*README_CACHE_FLAGS, "--cache-max-duration", "1d")
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)
    assert set(wait_answering(server).values()) == {"answering"}
    assert wait_for(lambda: copy_state(server, "metrics") == "ready")
    loads = copy_loads(server, "metrics")
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().execute(RETENTION)
    assert set(states(server).values()) == {"answering"}, server.log()[-3000:]
    log = server.log()
    assert "the cache of metrics followed the DELETE of its rows WHERE" in log, log[-3000:]
    assert "window 'metrics' followed the DELETE of the rows of main.metrics before" in log
    assert copy_loads(server, "metrics") == loads
    recent = ("SELECT metric_id, count(*) AS n, sum(value) AS total FROM metrics WHERE timestamp "
              f">= TIMESTAMP '{now - dt.timedelta(hours=2)}' GROUP BY metric_id ORDER BY 1")
    close(from_the_copy(server, recent),
          direct.stored(recent.replace(" AS n", "").replace(" AS total", "")))
    close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
    close(rows(server.uri, README_QUERY), direct.stored(README_QUERY_PG))
