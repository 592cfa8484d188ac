"""The engine stacks the windows layer runs on, for tests that must hold on each of them, and
reference aggregates computed in Python over the rows a stack stored.

  duckdb    embedded DuckDB (a file, so a restart keeps the rows)
  sqlite    --engine adbc, SQLite on a temp file (no DuckDB below the windows: SQLite's SQL)
  postgres  --engine adbc, a fresh database of the session's real PostgreSQL, behind the
            DuckDB cache (--enable-cache, :memory:), as the README runs it

    def test_x(stack):                      # the `stack` fixture (conftest.py) is parametrised
        server = stack.start("--log-level", "debug")
        rows = stack.stored("SELECT k, ts, v FROM t")   # the engine's own rows, read directly

Reference answers are the engine's own: the stored rows are read back from the backend itself
(PostgreSQL and SQLite with their own ADBC drivers, DuckDB through the server, which is the
engine) and aggregated here, so no DuckDB-only SQL is sent to another database. Times are naive
UTC datetimes on every stack (SQLite keeps them as ISO 8601 text; they are parsed here).
"""
import datetime
import math
import re
import time
import uuid

import adbc_driver_flightsql.dbapi

NAMES = ("duckdb", "sqlite", "postgres")
EPOCH = datetime.datetime(1970, 1, 1)
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def connect(server, autocommit=True):
    return adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=autocommit)


def query(server, sql):
    """Rows of one statement through hyprstream (None for a statement without a result)."""
    with connect(server) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else None


def iso(t):
    """A time literal every stack's SQL takes and SQLite stores in the form its ADBC driver
    writes (ISO 8601 with 'T' and microseconds), so its text order is time order."""
    return "'" + t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "'"


class Stack:
    """One stack under test: starts servers on its database and reads that database directly."""

    def __init__(self, name, tmp_path, start_server, postgres=None):
        self.name = name
        self._start_server = start_server
        self._postgres = postgres
        self._servers = []
        self.server = None
        if name == "duckdb":
            self.path = tmp_path / "engine.duckdb"
        elif name == "sqlite":
            self.path = tmp_path / "engine.sqlite"
        elif name == "postgres":
            self.database = "w_" + uuid.uuid4().hex[:12]
            postgres.psql(f"CREATE DATABASE {self.database}", database="postgres")
        else:
            raise ValueError(name)

    # --- what the stack can do --------------------------------------------------------------
    @property
    def has_duckdb_sql(self):
        """Whether DuckDB's SQL (time_bucket, tumble(), GROUP BY ALL, ...) can run on the rows:
        the embedded engine, or PostgreSQL's rows mirrored in the DuckDB cache."""
        return self.name != "sqlite"

    def timestamp(self, t):
        """A TIMESTAMP literal for `t` in the stack's SQL (SQLite: ISO text, which its CAST
        would turn into a number)."""
        return iso(t) if self.name == "sqlite" else f"TIMESTAMP {iso(t)}"

    def placeholders(self, n):
        """n parameter markers in the backend's SQL (PostgreSQL: $1, $2, ...)."""
        if self.name == "postgres":
            return ", ".join(f"${i}" for i in range(1, n + 1))
        return ", ".join("?" * n)

    def now_minus(self, interval):
        """`now() - INTERVAL '<interval>'` in the stack's SQL, comparable with its times."""
        if self.name == "sqlite":
            number, unit = interval.split()
            return f"strftime('%Y-%m-%dT%H:%M:%f', 'now', '-{number} {unit.rstrip('s')}s')"
        return f"now() - INTERVAL '{interval}'"

    # --- servers ------------------------------------------------------------------------------
    def args(self):
        if self.name == "duckdb":
            return ["--engine-connection", str(self.path)]
        if self.name == "sqlite":
            return ["--engine", "adbc", "--engine-connection", f"{self.path}?pool_max=4",
                    "--engine-options", "driver=sqlite"]
        from test_adbc_backend import PG_DRIVER
        return ["--engine", "adbc", "--engine-connection",
                f"postgresql://127.0.0.1:{self._postgres.port}/{self.database}"
                "?pool_max=10&pool_min=1&connect_timeout=30",
                "--engine-options", f"driver_path={PG_DRIVER}",
                "--enable-cache", "--cache-engine", "duckdb", "--cache-connection", ":memory:"]

    def env(self):
        if self.name != "postgres":
            return None
        from test_adbc_backend import CREDENTIALS
        return CREDENTIALS

    def start(self, *extra):
        """A server of this stack (on the same database as every other one it started)."""
        self.server = self._start_server(*self.args(), *extra, env=self.env())
        self._servers.append(self.server)
        return self.server

    def restart(self, *extra):
        """Stops the current server (SIGTERM, must exit 0) and starts another on the same data;
        the PostgreSQL stack's cache (:memory:) starts empty."""
        code = self.server.stop()
        assert code == 0, f"server exited with {code}:\n{self.server.log()}"
        return self.start(*extra)

    def close(self):
        for server in self._servers:
            server.stop()
        if self.name == "postgres":
            self._postgres.psql(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)",
                                database="postgres")

    # --- the engine's own rows ---------------------------------------------------------------
    def stored(self, sql):
        """The backend's own answer to `sql`, read directly (DuckDB: through the server, which
        is the engine; use it for plain reads, which no window answers)."""
        if self.name == "duckdb":
            return query(self.server, sql)
        if self.name == "sqlite":
            import adbc_driver_sqlite.dbapi
            with adbc_driver_sqlite.dbapi.connect(str(self.path), autocommit=True) as conn, \
                    conn.cursor() as cur:
                # (The server may be writing, e.g. a window's history: wait for it.)
                cur.execute("PRAGMA busy_timeout = 10000")
                cur.execute(sql)
                rows = cur.fetchall()
            return [tuple(parse_time(v) for v in row) for row in rows]
        import adbc_driver_postgresql.dbapi
        with adbc_driver_postgresql.dbapi.connect(self.postgres_uri()) as conn, \
                conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def postgres_uri(self):
        return self._postgres.uri.rsplit("/", 1)[0] + "/" + self.database

    def wait_mirrored(self, server, table, timeout=30.0):
        """PostgreSQL stack: waits until the cache's mirror of `table` is ready again (a SQL
        write reloads it), so DuckDB SQL over it runs on the cache. Other stacks: nothing."""
        assert self.mirrored(server, table, timeout), f"the mirror of {table} is not ready"

    def mirrored(self, server, table, timeout):
        """Whether the mirror of `table` is ready within `timeout` seconds (True without a
        cache)."""
        if self.name != "postgres":
            return True
        deadline = time.monotonic() + timeout
        sql = f"SELECT state FROM hyprstream_cache_tables() WHERE table_name = '{table}'"
        while query(server, sql) != [("ready",)]:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def parse_time(value):
    """SQLite's ISO 8601 text times as datetimes; anything else unchanged."""
    if isinstance(value, str) and ISO_TIME.match(value):
        return datetime.datetime.fromisoformat(value)
    return value


# --- reference aggregates ------------------------------------------------------------------

def aggregates(values):
    """count, sum, avg, min, max of the non-null values (sum/avg/min/max None when none)."""
    present = [v for v in values if v is not None]
    if not present:
        return {"count": 0, "sum": None, "avg": None, "min": None, "max": None}
    total = math.fsum(present)
    return {"count": len(present), "sum": total, "avg": total / len(present),
            "min": min(present), "max": max(present)}


def bucket_start(t, width):
    """The start of the epoch-aligned window of `width` holding time `t`."""
    return EPOCH + ((t - EPOCH) // width) * width


def tumbling(rows, width):
    """rows: (key, time, value); {(key, window_start): [values]} like GROUP BY key,
    time_bucket(width, time) (a row without a time goes to window None)."""
    out = {}
    for key, t, v in rows:
        start = None if t is None else bucket_start(t, width)
        out.setdefault((key, start), []).append(v)
    return out


def hopping(rows, width, slide):
    """{(key, window_start): [values]}: a row is in every window [s, s + width) holding it,
    s a multiple of `slide` since the epoch (DuckDB's hop() and the hopping windows)."""
    out = {}
    for key, t, v in rows:
        if t is None:
            continue
        start = bucket_start(t, slide)
        while start > t - width:
            out.setdefault((key, start), []).append(v)
            start -= slide
    return out


def trailing(rows, since, inclusive=False):
    """{key: [values]} of the rows with time > since (>= when inclusive)."""
    out = {}
    for key, t, v in rows:
        if t is not None and (t > since or (inclusive and t == since)):
            out.setdefault(key, []).append(v)
    return out


def assert_rows_match(got, want, context=""):
    """Same rows in the same order; floats equal to 1e-9 relative (summation order differs
    between engines), everything else (keys, times, counts, min, max) exactly."""
    assert len(got) == len(want), (context, len(got), len(want), got[:5], want[:5])
    for g, w in zip(got, want):
        assert len(g) == len(w), (context, g, w)
        for a, b in zip(g, w):
            if isinstance(b, float) and isinstance(a, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (context, g, w)
            else:
                assert a == b, (context, g, w)


def sort_key(row):
    return tuple((v is None, v if v is not None else 0) for v in row)


def window_reference(rows, width, slide=None):
    """rows: (key..., time, value) as stored. Per key and tumbling window of `width` (hopping
    with `slide`) that holds a row: (key..., window_start, count, sum, min, max) of the values,
    ordered by window_start, then key (the order hyprstream_window reads are asked in)."""
    split = [(tuple(r[:-2]), r[-2], r[-1]) for r in rows]
    groups = hopping(split, width, slide) if slide else tumbling(split, width)
    out = []
    for (key, start), values in groups.items():
        if start is None:
            continue
        a = aggregates(values)
        out.append((*key, start, a["count"], a["sum"], a["min"], a["max"]))
    n = len(rows[0]) - 2 if rows else 0
    return sorted(out, key=lambda r: sort_key((r[n],) + r[:n]))
