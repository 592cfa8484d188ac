"""Windows in front of a REAL PostgreSQL without the DuckDB cache (`--engine adbc`, no
`--enable-cache`: Windowed(Adbc)). Their state is built, and rebuilt after a change it cannot
follow, from a snapshot of PostgreSQL's rows (a REPEATABLE READ transaction) while writes go
on. Every answer is checked against PostgreSQL's own rows, read directly with
adbc_driver_postgresql."""
import datetime as dt
import os
import random
import re
import threading
import time
import uuid

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pytest

from test_adbc_backend import CREDENTIALS, PG_DRIVER
from test_cache import utcnow
from test_windows_postgres import close, rows

README_QUERY = """SELECT metric_id, COUNT(*) AS samples, AVG(value_running_window_avg) AS avg_value
FROM metrics WHERE timestamp >= NOW() - INTERVAL '1 hour' GROUP BY metric_id
ORDER BY metric_id"""
README_QUERY_PG = """SELECT metric_id, count(*), avg(value_running_window_avg) FROM metrics
WHERE timestamp >= (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour' GROUP BY metric_id
ORDER BY metric_id"""
METRICS_5M = """SELECT metric_id, window_start, value_count, value_sum, value_min, value_max
FROM hyprstream_window('metrics', width := '5m') ORDER BY window_start, metric_id"""
METRICS_5M_PG = """SELECT metric_id, date_bin('5 minutes', timestamp, TIMESTAMP '1970-01-01'),
count(value), sum(value), min(value), max(value) FROM metrics GROUP BY 1, 2 ORDER BY 2, 1"""


class Direct:
    """A database of its own on the session's PostgreSQL, and hyprstream servers in front of it
    without the cache."""

    def __init__(self, postgres, start_server):
        self.postgres = postgres
        self.start_server = start_server
        self.database = "d_" + uuid.uuid4().hex[:12]
        postgres.psql(f"CREATE DATABASE {self.database}", database="postgres")

    def start(self, *flags, pool="pool_max=10&pool_min=1&connect_timeout=30"):
        """A server in front of the database; `flags`: more options (the cache's); `pool`: the
        connection string's pool options."""
        return self.start_server(
            "--engine", "adbc", "--engine-connection",
            f"postgresql://127.0.0.1:{self.postgres.port}/{self.database}?{pool}",
            "--engine-options", f"driver_path={PG_DRIVER}", "--log-level", "debug", *flags,
            env=CREDENTIALS)

    def uri(self):
        """The database's URI for a direct client."""
        return self.postgres.uri.rsplit("/", 1)[0] + "/" + self.database

    def stored(self, sql):
        """PostgreSQL's own answer, read directly."""
        with adbc_driver_postgresql.dbapi.connect(self.uri()) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def note_delete_isolation(self):
        """Each DELETE of metrics notes its transaction's isolation level in delete_levels
        (a statement trigger); the levels noted, in order, are delete_levels()."""
        self.postgres.psql(
            "CREATE TABLE delete_levels (n serial, level text); "
            "CREATE FUNCTION note_level() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO delete_levels (level) VALUES "
            "(current_setting('transaction_isolation')); RETURN NULL; END $$; "
            "CREATE TRIGGER note_level BEFORE DELETE ON metrics FOR EACH STATEMENT "
            "EXECUTE FUNCTION note_level()", database=self.database)

    def delete_levels(self):
        return [level for (level,) in self.stored("SELECT level FROM delete_levels ORDER BY n")]

    def wait_for_a_lock_wait(self, failure, timeout=10.0):
        """Waits until some session waits for a lock (`failure` if none does in time)."""
        deadline = time.monotonic() + timeout
        while self.stored("SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0] < 1:
            assert time.monotonic() < deadline, failure
            time.sleep(0.02)

    def run_waiting_for_locks(self, server, sql, locking_sql, release, meanwhile=lambda: None):
        """Runs `sql` through hyprstream while another session, which ran `locking_sql`, holds
        row locks it waits for; once it waits, `meanwhile()`, then `release(session)` (commit
        or rollback) lets it go on. Asserts it succeeded."""
        other = adbc_driver_postgresql.dbapi.connect(self.uri())
        try:
            other.cursor().execute(locking_sql)
            running, done, errors = run_in_background(server, sql)
            self.wait_for_a_lock_wait(f"{sql} did not wait for the row locks")
            meanwhile()
            assert not done.is_set()
            release(other)
            running.join(30)
        finally:
            other.rollback()
            other.close()
        assert done.is_set() and not errors, errors


def run_in_background(server, sql):
    """Runs `sql` through hyprstream on a thread of its own: (the thread, an Event set once it
    returned, the errors it raised)."""
    done, errors = threading.Event(), []

    def run():
        try:
            with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
                conn.cursor().execute(sql)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
        done.set()

    running = threading.Thread(target=run, daemon=True)
    running.start()
    return running, done, errors


@pytest.fixture
def direct(postgres, start_server):
    d = Direct(postgres, start_server)
    yield d
    postgres.psql(f"DROP DATABASE IF EXISTS {d.database} WITH (FORCE)", database="postgres")


def states(server):
    return dict(rows(server.uri, "SELECT name, state FROM hyprstream_windows()"))


def wait_answering(server, timeout=60.0):
    """Waits until every definition answers; the states seen last."""
    deadline = time.monotonic() + timeout
    seen = states(server)
    while any(s != "answering" for s in seen.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = states(server)
    return seen


def answered(server, name):
    return server.log().count(f"answered from the maintained windows of '{name}'")


def assert_windows_answer_as_postgresql(server, direct, history_before=None):
    """Every 5m window (some starting before `history_before`, where given: history is left)
    equals PostgreSQL's GROUP BY, and the README query, answered from the windows, equals
    PostgreSQL's answer."""
    got = rows(server.uri, METRICS_5M)
    if history_before is not None:
        assert min(r[1] for r in got) < history_before
    close(got, direct.stored(METRICS_5M_PG))
    before = answered(server, "metrics_trailing")
    got = rows(server.uri, README_QUERY)
    assert answered(server, "metrics_trailing") == before + 1, "the README query ran elsewhere"
    close(got, direct.stored(README_QUERY_PG))


def metrics_rows(ids, start, n, step_s, seed):
    return pa.table({
        "metric_id": [ids[(i + seed) % len(ids)] for i in range(n)],
        "timestamp": pa.array([start + dt.timedelta(seconds=step_s * i) for i in range(n)],
                              pa.timestamp("us")),
        "value": [float((i * 37 + seed) % 101) / 4 for i in range(n)],
    })


def old_and_recent_metrics(server, old_start, old_step_s):
    """Metrics rows of a, b and c: 300 from `old_start`, `old_step_s` seconds apart, and 800
    of the last 40 minutes."""
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.adbc_ingest("metrics", metrics_rows(("a", "b", "c"), old_start, 300, old_step_s, 0),
                        mode="append")
        cur.adbc_ingest("metrics", metrics_rows(("a", "b", "c"),
                                                utcnow().replace(microsecond=0)
                                                - dt.timedelta(minutes=40), 800, 3, 0),
                        mode="append")


class MetricsWriter:
    """Streams metrics rows of b and c (times from now on) through hyprstream, 20 at a time,
    from entering (once 100 are written) until leaving; leaving re-raises what it met."""

    def __init__(self, server):
        self.server = server
        self.written = 0
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.write)

    def write(self):
        try:
            with adbc_driver_flightsql.dbapi.connect(self.server.uri, autocommit=True) as conn:
                cur = conn.cursor()
                seed = 1
                while not self.stop.is_set():
                    batch = metrics_rows(("b", "c"), utcnow(), 20, 0.01, seed)
                    cur.adbc_ingest("metrics", batch, mode="append")
                    self.written += batch.num_rows
                    seed += 1
        except Exception as e:  # noqa: BLE001 - re-raised on leaving
            self.errors.append(e)

    def settle(self, rows=100):
        """Waits until `rows` more rows are written."""
        until = self.written + rows
        while self.written < until and not self.errors:
            time.sleep(0.01)

    def __enter__(self):
        self.thread.start()
        self.settle()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        assert not self.errors, self.errors


def prices_with_window(server, windows, syms, n):
    """Table prices (sym, ts, price) made through hyprstream with window prices_w (`windows`)
    over it, and n rows of the last n * 10 s."""
    now = utcnow().replace(microsecond=0)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE prices (sym VARCHAR, ts TIMESTAMP, price DOUBLE PRECISION)")
        cur.execute("SELECT * FROM hyprstream_create_window('prices_w', 'prices', keys := 'sym', "
                    f"time_column := 'ts', value_columns := 'price', windows := '{windows}')")
        cur.adbc_ingest("prices", pa.table({
            "sym": [syms[i % len(syms)] for i in range(n)],
            "ts": pa.array([now - dt.timedelta(seconds=10 * (n - i)) for i in range(n)],
                           pa.timestamp("us")),
            "price": [float(i % 17) for i in range(n)]}), mode="append")


def assert_prices_1m(server, direct):
    """prices_w's 1m windows (a direct read) equal PostgreSQL's GROUP BY of the stored rows;
    the windows read."""
    got = rows(server.uri, "SELECT sym, window_start, price_count, price_sum, price_max "
                           "FROM hyprstream_window('prices_w', width := '1m') "
                           "ORDER BY window_start, sym")
    close(got, direct.stored("SELECT sym, date_bin('1 minute', ts, TIMESTAMP '1970-01-01'), "
                             "count(price), sum(price), max(price) FROM prices "
                             "GROUP BY 1, 2 ORDER BY 2, 1"))
    return got


def test_metrics_windows_are_rebuilt_from_a_snapshot_while_writes_go_on(direct):
    """A DELETE the windows cannot follow (one metric's rows) no longer leaves them diverged
    until the next start: they are rebuilt in the background from a snapshot of PostgreSQL's
    rows while a writer streams more, and then answer again: every 5m window and the README
    query equal PostgreSQL's own answers over its rows. A restart builds them from a snapshot
    too, in the background, with the same answers."""
    server = direct.start()
    # A day ago (history; the trailing window's build does not read them) and the last 40
    # minutes.
    old_and_recent_metrics(server, utcnow().replace(microsecond=0) - dt.timedelta(days=1), 60)
    assert set(wait_answering(server).values()) == {"answering"}
    close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))

    # A writer streams rows of b and c (times from now on) through the DELETE and the rebuild.
    with MetricsWriter(server) as writer:
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute("DELETE FROM metrics WHERE metric_id = 'a'")
            assert cur.rowcount in (-1, 100 + 800 // 3 + 1)
        assert direct.stored("SELECT count(*) FROM metrics WHERE metric_id = 'a'") == [(0,)]
        assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
        writer.settle()
    assert writer.written >= 200
    # (Built from a snapshot: the start's build and the rebuild after the DELETE.)
    assert server.log().count("built from the stored rows of main.metrics") >= 2

    got = rows(server.uri, METRICS_5M)
    assert {r[0] for r in got} == {"b", "c"}
    close(got, direct.stored(METRICS_5M_PG))
    before = answered(server, "metrics_trailing")
    got = rows(server.uri, README_QUERY)
    assert answered(server, "metrics_trailing") == before + 1, "the README query ran on PostgreSQL"
    close(got, direct.stored(README_QUERY_PG))
    assert sum(r[1] for r in got) == direct.stored(
        "SELECT count(*) FROM metrics WHERE timestamp >= "
        "(now() AT TIME ZONE 'UTC') - INTERVAL '1 hour'")[0][0]

    # A restart builds the state from a snapshot, in the background.
    assert server.stop() == 0
    server = direct.start()
    assert set(wait_answering(server).values()) == {"answering"}
    assert "window 'metrics' is built from the stored rows of main.metrics in the background" \
        in server.log()
    close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
    close(rows(server.uri, README_QUERY), direct.stored(README_QUERY_PG))
    # The trailing window's state needs only the last hours: the rows of a day ago were not
    # read for it (they were for the 5m windows' history).
    built = re.search(r"window 'metrics_trailing' built from the stored rows of main.metrics: "
                      r"(\d+) rows in [\d.]+ s \((\d+) recent rows folded", server.log())
    assert built, server.log()
    total, recent = int(built.group(1)), int(built.group(2))
    assert total == direct.stored("SELECT count(*) FROM metrics")[0][0]
    assert total - recent == direct.stored(
        "SELECT count(*) FROM metrics WHERE timestamp < "
        "(now() AT TIME ZONE 'UTC') - INTERVAL '12 hours'")[0][0] == 200


def test_an_update_of_a_table_with_windows_is_rebuilt_not_refused(direct):
    """An UPDATE of a table with windows, refused without the cache before (nothing could
    rebuild them), changes the rows and the windows are rebuilt from a snapshot: their
    tumbling windows and a trailing GROUP BY equal PostgreSQL's own answers."""
    server = direct.start()
    prices_with_window(server, "1m, 5m, trailing 1h", ("x", "y", "z"), 300)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().execute("UPDATE prices SET price = price * 2 + 1 WHERE sym = 'y'")
    assert direct.stored("SELECT min(price) FROM prices WHERE sym = 'y'") == [(1.0,)]
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    assert {r[0] for r in assert_prices_1m(server, direct)} == {"x", "y", "z"}
    before = answered(server, "prices_w")
    got = rows(server.uri, "SELECT sym, count(price) AS n, sum(price) AS total FROM prices "
                           "WHERE ts > now() - INTERVAL '1 hour' GROUP BY sym ORDER BY sym")
    assert answered(server, "prices_w") == before + 1, "the trailing query ran on PostgreSQL"
    close(got, direct.stored("SELECT sym, count(price), sum(price) FROM prices "
                             "WHERE ts > (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour' "
                             "GROUP BY sym ORDER BY sym"))


def test_a_rebuild_that_cannot_read_the_rows_is_tried_again(direct):
    """A rebuild whose read of PostgreSQL's rows fails (here: an exclusive lock another session
    holds on the table, past the database's lock_timeout) is tried again after 1 s, then after
    twice as long each time; meanwhile the engine answers. Once the rows can be read the
    windows answer again, equal to PostgreSQL's rows."""
    direct.postgres.psql(f"ALTER DATABASE {direct.database} SET lock_timeout = '300ms'",
                         database="postgres")
    server = direct.start()
    prices_with_window(server, "1m", ("x", "y"), 100)
    assert set(wait_answering(server).values()) == {"answering"}

    # hyprstream deletes in a transaction; another session asks for an exclusive lock, queued
    # behind it and granted as it commits, before the rebuild reads the rows.
    locker = adbc_driver_postgresql.dbapi.connect(direct.uri())
    try:
        with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:  # autocommit off
            conn.cursor().execute("DELETE FROM prices WHERE sym = 'x'")
            locking = locker.cursor()
            locking.execute("SET lock_timeout = 0")
            lock = threading.Thread(
                target=lambda: locking.execute("LOCK TABLE prices IN ACCESS EXCLUSIVE MODE"))
            lock.start()
            direct.wait_for_a_lock_wait("the lock was not asked for")
            conn.commit()
        lock.join()
        deadline = time.monotonic() + 20
        while "trying again in 2 s" not in server.log():
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.05)
        assert "trying again in 1 s" in server.log()
        assert states(server)["prices_w"] == "rebuilding"
    finally:
        locker.rollback()
        locker.close()
    assert wait_answering(server)["prices_w"] == "answering", server.log()[-3000:]
    assert {r[0] for r in assert_prices_1m(server, direct)} == {"y"}


RETENTION = ("DELETE FROM metrics WHERE timestamp < (now() AT TIME ZONE 'UTC') "
             "- INTERVAL '2 days'")
UPDATE_OLD_ROWS = ("UPDATE metrics SET value = value + 1000 WHERE timestamp < "
                   "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'")


def test_a_retention_delete_is_followed_not_rebuilt(direct):
    """A retention DELETE of the oldest rows, beside a writer, is followed as on embedded
    DuckDB: its transaction shares its snapshot with the check's (pg_export_snapshot), the
    windows answer as it returns, without a rebuild, and every 5m window (the history's
    included) and the README query equal PostgreSQL's answers over the rows left."""
    server = direct.start()
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)  # 50 hours from 3 days ago
    assert set(wait_answering(server).values()) == {"answering"}
    direct.note_delete_isolation()

    with MetricsWriter(server) as writer:
        old = direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                            "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'")[0][0]
        assert old >= 100
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
            conn.cursor().execute(RETENTION)
        # Answering as the DELETE returned: followed, not rebuilt.
        assert set(states(server).values()) == {"answering"}, server.log()[-3000:]
        writer.settle()
    log = server.log()
    for name in ("metrics", "metrics_trailing"):
        assert f"window '{name}' followed the DELETE of the rows of main.metrics before" in log, \
            log[-3000:]
    assert "rebuilt" not in log.split("followed the DELETE", 1)[1]
    assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                         "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'") == [(0,)]
    assert direct.delete_levels() == ["repeatable read"]

    assert_windows_answer_as_postgresql(server, direct, now - dt.timedelta(days=1))


def test_a_retention_delete_that_loses_to_another_write_runs_again(direct):
    """The followed DELETE runs in a REPEATABLE READ transaction, which fails where another
    session changed the same rows meanwhile (a serialization failure) while a DELETE of its own
    would wait and go on. It is then run again as it would be unwatched: the client sees it
    succeed, and the windows are rebuilt, equal to PostgreSQL's rows (the other session's
    change included)."""
    server = direct.start()
    time_now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, time_now - dt.timedelta(days=3), 600)
    assert set(wait_answering(server).values()) == {"answering"}
    direct.note_delete_isolation()

    # Another session changes old rows and holds their locks; the DELETE waits for them.
    direct.run_waiting_for_locks(server, RETENTION, UPDATE_OLD_ROWS, lambda other: other.commit())
    assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                         "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'") == [(0,)]
    # (The first try's row is rolled back with it.)
    assert direct.delete_levels() == ["read committed"]
    assert "a DELETE of main.metrics lost to another write of its rows (" in server.log()
    assert "(SQLSTATE 40001)); running it again" in server.log()
    assert "followed the DELETE" not in server.log()
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    got = rows(server.uri, METRICS_5M)
    assert min(r[1] for r in got) > time_now - dt.timedelta(days=2, minutes=10)
    close(got, direct.stored(METRICS_5M_PG))
    close(rows(server.uri, README_QUERY), direct.stored(README_QUERY_PG))


OLD_ROWS_LOCKED = ("SELECT * FROM metrics WHERE timestamp < (now() AT TIME ZONE 'UTC') "
                   "- INTERVAL '2 days' FOR UPDATE")


@pytest.mark.parametrize("cache", [False, True], ids=["postgresql", "behind-the-cache"])
def test_the_windows_answer_throughout_a_followed_retention_delete(direct, cache):
    """A retention DELETE that the windows follow never stops them answering: while it waits
    for another session's row locks (uncommitted, so PostgreSQL's readers still see the old
    rows) the README query and the 5m windows, history included, are answered from the windows
    and equal PostgreSQL's answers, and a reader asking the README query from before the DELETE
    until after it is answered from the windows every time. Without the cache and behind it
    (the README configuration)."""
    from test_cache import README_CACHE_FLAGS, ask
    server = direct.start(*(README_CACHE_FLAGS if cache else ()))
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)  # 50 hours from 3 days ago
    assert set(wait_answering(server).values()) == {"answering"}
    if cache:
        wait = time.monotonic() + 60
        while (dict(rows(server.uri, "SELECT table_name, state FROM hyprstream_cache_tables()"))
               .get("metrics") != "ready"):
            assert time.monotonic() < wait, "the cache never loaded metrics"
            time.sleep(0.05)
    # (Every README query answered from the windows logs once: the reader's must all be.)
    assert rows(server.uri, README_QUERY)
    before = answered(server, "metrics_trailing")
    stop, asked, errors = threading.Event(), [0], []

    def keep_asking():
        try:
            with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
                cur = conn.cursor()
                while not stop.is_set():
                    cur.execute(README_QUERY)
                    cur.fetchall()
                    asked[0] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def while_it_waits():
        got, provenance = ask(server.uri, README_QUERY)
        assert provenance["source"] == "windows", provenance
        close([tuple(r.values()) for r in got], direct.stored(README_QUERY_PG))
        got = rows(server.uri, METRICS_5M)
        assert min(r[1] for r in got) < now - dt.timedelta(days=2)  # the old rows' windows
        close(got, direct.stored(METRICS_5M_PG))

    reader = threading.Thread(target=keep_asking)
    reader.start()
    try:
        direct.run_waiting_for_locks(server, RETENTION, OLD_ROWS_LOCKED,
                                     lambda other: other.rollback(), while_it_waits)
    finally:
        stop.set()
        reader.join()
    assert not errors, errors
    log = server.log()
    for name in ("metrics", "metrics_trailing"):
        assert f"window '{name}' followed the DELETE of the rows of main.metrics before" in log, \
            log[-3000:]
    assert "queries are no longer answered from window" not in log, log[-3000:]
    # The reader's queries and the two in while_it_waits, every one from the windows.
    assert asked[0] > 0
    assert answered(server, "metrics_trailing") - before == asked[0] + 1, log[-3000:]
    assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                         "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'") == [(0,)]
    assert_windows_answer_as_postgresql(server, direct, now - dt.timedelta(days=1))


@pytest.mark.parametrize("cache", [False, True], ids=["postgresql", "behind-the-cache"])
def test_a_busy_pool_never_keeps_writes_out_while_a_delete_waits_for_a_connection(direct, cache):
    """A followed DELETE takes its snapshot while the table's writes wait (and behind the cache
    while its copy's writes wait), and needs a second backend connection for its check. With
    every one lent out (pool_max=2: one held by a client's open transaction, one by the DELETE)
    it waits for one only a moment, not the pool's wait (connect_timeout, 10 minutes here):
    the DELETE runs as it would without the windows, which are rebuilt, and every answer then
    equals PostgreSQL's."""
    from test_cache import README_CACHE_FLAGS
    server = direct.start(*(README_CACHE_FLAGS if cache else ()),
                          pool="pool_max=2&pool_min=1&connect_timeout=600")
    now = utcnow().replace(microsecond=0)
    old_and_recent_metrics(server, now - dt.timedelta(days=3), 600)
    assert set(wait_answering(server).values()) == {"answering"}
    holding = adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=False)
    try:
        holding.cursor().execute("SELECT count(*) FROM metrics")  # its transaction holds one
        _, deleted, errors = run_in_background(server, RETENTION)
        assert deleted.wait(120), "the DELETE waited for a backend connection: " + \
            server.log()[-2000:]
        assert not errors, errors
    finally:
        holding.rollback()
        holding.close()
    log = server.log()
    assert "all 2 backend connections are busy" in log, log[-3000:]
    assert "followed the DELETE" not in log
    assert direct.stored("SELECT count(*) FROM metrics WHERE timestamp < "
                         "(now() AT TIME ZONE 'UTC') - INTERVAL '2 days'") == [(0,)]
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    assert_windows_answer_as_postgresql(server, direct, now - dt.timedelta(days=1))


class RandomRetention:
    """The rounds of a randomised retention test (seed HYPRSTREAM_TEST_SEED, default 20261207):
    3,000 rows of 7 metrics at random times over the last three days (none within 5 minutes of
    the README query's bound, which moves as the test runs), in time order, in 6 rounds, each
    followed by a DELETE of a random kind: "nothing" (before the oldest row), "old" (a random
    bound in the old rows, before today's 1d window and the trailing panes), "today" (into
    today's rows) or "metric" (one metric's rows)."""

    def __init__(self):
        self.seed = int(os.environ.get("HYPRSTREAM_TEST_SEED", "20261207"))
        self.rng = random.Random(self.seed)
        self.now = utcnow().replace(microsecond=0)
        start, end = self.now - dt.timedelta(days=3), self.now - dt.timedelta(minutes=1)
        span = (end - start).total_seconds()
        times = sorted(t for t in (start + dt.timedelta(seconds=self.rng.uniform(0, span))
                                   for _ in range(3000))
                       if abs((self.now - t - dt.timedelta(hours=1)).total_seconds()) > 300)
        self.ids = [f"m{i}" for i in range(7)]
        self.kinds = ["nothing", "old", "old", "old", "today", "metric"]
        self.rng.shuffle(self.kinds)
        self.chunks = [times[i * len(times) // len(self.kinds):
                             (i + 1) * len(times) // len(self.kinds)]
                       for i in range(len(self.kinds))]

    def rounds(self):
        """(what, kind, times, rows) of each round."""
        for round_, (kind, chunk) in enumerate(zip(self.kinds, self.chunks)):
            yield f"seed {self.seed}, round {round_}, {kind}", kind, chunk, pa.table({
                "metric_id": [self.rng.choice(self.ids) for _ in chunk],
                "timestamp": pa.array(chunk, pa.timestamp("us")),
                "value": [round(self.rng.uniform(-50, 50), 2) for _ in chunk]})

    def delete(self, kind, chunk, oldest):
        """The round's DELETE, `oldest` the oldest row stored."""
        if kind == "nothing":
            return f"DELETE FROM metrics WHERE timestamp < '{oldest}'"
        if kind == "old":
            newest_old = min(chunk[0], self.now - dt.timedelta(days=1, hours=2))
            bound = oldest + (newest_old - oldest) * self.rng.uniform(0.05, 0.95)
            return f"DELETE FROM metrics WHERE timestamp < '{bound}'"
        if kind == "today":
            bound = self.now - dt.timedelta(minutes=self.rng.uniform(5, 300))
            return f"DELETE FROM metrics WHERE timestamp < '{bound}'"
        return f"DELETE FROM metrics WHERE metric_id = '{self.rng.choice(self.ids)}'"


def test_retention_deletes_at_random_bounds_leave_answers_equal_to_postgresql(direct):
    """Randomised differential test of following DELETEs over PostgreSQL: rows of random
    metrics at random times over three days arrive in rounds (in time order); after each round
    a DELETE at a random bound: before the oldest row (removes nothing), in the old rows
    (followed), into today's rows (the 1d window holds them: 'metrics' is rebuilt), or of one
    metric (rebuilt). After each every 5m window, history included, and the README query equal
    PostgreSQL's answers over the rows left."""
    retention = RandomRetention()
    server = direct.start()
    followed = 0
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        cur = conn.cursor()
        for what, kind, chunk, table in retention.rounds():
            cur.adbc_ingest("metrics", table, mode="append")
            assert set(wait_answering(server).values()) == {"answering"}, what
            oldest = direct.stored("SELECT min(timestamp) FROM metrics")[0][0]
            sql = retention.delete(kind, chunk, oldest)
            before = server.log().count("followed the DELETE of the rows of main.metrics")
            before_metrics = server.log().count("window 'metrics' followed the DELETE")
            cur.execute(sql)
            # (A definition whose open windows still hold older rows is rebuilt: 'metrics'
            # while the newest rows are days old, and after a DELETE into today's rows, which
            # its 1d window holds. 'metrics_trailing' holds only its last hour: it follows one
            # whose bound is older.)
            followed += server.log().count("followed the DELETE of the rows of main.metrics") \
                - before
            if server.log().count("window 'metrics' followed the DELETE") > before_metrics:
                assert kind in ("nothing", "old"), what
            assert set(wait_answering(server).values()) == {"answering"}, what
            close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
            answered_before = answered(server, "metrics_trailing")
            got = rows(server.uri, README_QUERY)
            assert answered(server, "metrics_trailing") == answered_before + 1, what
            close(got, direct.stored(README_QUERY_PG))
    assert followed >= 3, f"seed {retention.seed}: only {followed} follows"
    assert "window 'metrics' followed the DELETE" in server.log(), f"seed {retention.seed}"


def test_a_followed_delete_is_never_weaker_than_the_sessions_isolation(direct):
    """Where the database's sessions default to SERIALIZABLE, the followed DELETE's transaction
    is SERIALIZABLE too (not REPEATABLE READ), and its check's reader imports the snapshot at
    that level: it is followed, and the answers equal PostgreSQL's."""
    direct.postgres.psql(f"ALTER DATABASE {direct.database} "
                         "SET default_transaction_isolation = 'serializable'",
                         database="postgres")
    server = direct.start()
    old_and_recent_metrics(server, utcnow().replace(microsecond=0) - dt.timedelta(days=3), 600)
    assert set(wait_answering(server).values()) == {"answering"}
    direct.note_delete_isolation()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().execute(RETENTION)
    assert direct.delete_levels() == ["serializable"]
    assert set(states(server).values()) == {"answering"}, server.log()[-3000:]
    assert "window 'metrics' followed the DELETE" in server.log()
    close(rows(server.uri, METRICS_5M), direct.stored(METRICS_5M_PG))
    close(rows(server.uri, README_QUERY), direct.stored(README_QUERY_PG))


def test_a_transaction_lost_with_its_connection_leaves_the_windows_as_postgresql(direct):
    """The backend connection of a transaction that wrote metrics rows dies: the transaction is
    lost whole (later statements are refused, the commit says rolled back), and the windows,
    which fold a transaction's rows only at its commit, answer as PostgreSQL does. Before, the
    statement after the failure ran in autocommit and was kept."""
    server = direct.start()
    old_and_recent_metrics(server, utcnow() - dt.timedelta(hours=2), 10)
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=False) as conn:
        cur = conn.cursor()
        for i in range(3):
            cur.execute("INSERT INTO metrics (metric_id, timestamp, value) VALUES "
                        f"('a', now()::timestamp - INTERVAL '{i} seconds', {1000 + i})")
        ended = direct.stored(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
            "state = 'idle in transaction' AND pid <> pg_backend_pid()")
        assert ended == [(1,)]
        for i in range(2):  # the first meets the dead connection, the second is refused
            with pytest.raises(Exception) as refused:
                cur.execute("INSERT INTO metrics (metric_id, timestamp, value) VALUES "
                            "('b', now()::timestamp, 2000)")
            assert "Unavailable" in str(refused.value) or "IO" in str(refused.value)
        with pytest.raises(Exception) as committed:
            conn.commit()
        assert "rolled back, not committed" in str(committed.value)
    assert direct.stored("SELECT count(*) FROM metrics WHERE value >= 1000") == [(0,)]
    assert_windows_answer_as_postgresql(server, direct)


def test_statements_kept_across_random_commits_and_rollbacks_leave_the_windows_as_postgresql(
        direct):
    """The DB-API (autocommit off) keeps a cursor's prepared INSERT across commit() and
    rollback(): its rows reach PostgreSQL and the windows exactly when their transaction
    commits. Before, the kept statement ran committed at once, so a rollback() kept them."""
    server = direct.start()
    old_and_recent_metrics(server, utcnow() - dt.timedelta(hours=2), 10)
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    rng = random.Random(11)
    committed = 0
    with adbc_driver_flightsql.dbapi.connect(server.uri) as conn:
        cur = conn.cursor()
        for i in range(14):
            n = rng.randint(1, 3)
            for _ in range(n):
                cur.execute("INSERT INTO metrics (metric_id, timestamp, value) VALUES ($1, $2, $3)",
                            (rng.choice("abc"),
                             # out of order, within the lateness (1m): no row is late
                             utcnow() - dt.timedelta(seconds=rng.randint(0, 40)), 1000.0 + i))
            if rng.random() < 0.5:
                conn.commit()
                committed += n
            else:
                conn.rollback()
    assert direct.stored("SELECT count(*) FROM metrics WHERE value >= 1000") == [(committed,)]
    assert_windows_answer_as_postgresql(server, direct)
