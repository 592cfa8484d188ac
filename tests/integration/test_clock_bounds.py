"""Queries comparing a TIMESTAMP column with the clock (`ts >= now() - INTERVAL '1 hour'`) run
with the clock side cast to TIMESTAMP while the session is in UTC: the same rows, without
DuckDB casting every row to TIMESTAMPTZ (sql/clock_bounds.h). Differential: every answer
equals DuckDB's own — in process, the same version, the query as written — over the rows the
server stored, in UTC and after the session moves to a zone with daylight saving."""
import datetime
import random
import zoneinfo

import adbc_driver_flightsql.dbapi
import duckdb
import pyarrow as pa

OPS = [">", ">=", "<", "<=", "=", "<>", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"]


def clock_values(hours_back):
    """Bounds made of the clock that stay put within the hour, so two processes asked a few
    milliseconds apart agree on them (and rows can sit exactly on them)."""
    values = ["date_trunc('hour', now())", "date_trunc('hour', current_timestamp)",
              "date_trunc('day', now())", "time_bucket(INTERVAL '1 hour', now())"]
    for hours, minutes in hours_back:
        values.append(f"date_trunc('hour', now()) - INTERVAL '{hours} hours' "
                      f"+ INTERVAL '{minutes} minutes'")
    return values


def predicate(rng, values):
    column = rng.choice(["ts", "ts", "ts", "tz"])  # tz is a TIMESTAMPTZ: left as written
    value = rng.choice(values)
    shape = rng.randrange(4)
    if shape == 0:
        return f"{column} {rng.choice(OPS)} {value}"
    if shape == 1:
        return f"{value} {rng.choice(OPS)} {column}"
    if shape == 2:
        low, high = sorted(rng.sample(values, 2))
        return f"{column} BETWEEN {low} AND {high}"
    joiner = rng.choice(["AND", "OR"])
    return f"({predicate(rng, values)} {joiner} {predicate(rng, values)})"


def queries(rng, values, n):
    shapes = ["SELECT k, count(*) AS n, sum(v) AS s FROM events WHERE {} GROUP BY k",
              "SELECT * FROM events WHERE {}",
              "SELECT k, ts AS t FROM events WHERE {} AND k <> 'c'",
              # unaliased expressions: the result keeps DuckDB's names for them
              "SELECT k, count(*), avg(v), max(v) FROM events WHERE {} GROUP BY k",
              "SELECT v + 1, \"k\" FROM events WHERE {}"]
    return [rng.choice(shapes).format(predicate(rng, values)) for _ in range(n)]


def rows_near(hour, marks, rng, n):
    """Rows on, just before and just after each mark, and some anywhere around."""
    times = []
    for mark in marks:
        for delta_us in (0, 1, -1, 1000, -1000):
            times.append(mark + datetime.timedelta(microseconds=delta_us))
    while len(times) < n:
        times.append(hour + datetime.timedelta(microseconds=rng.randrange(-3 * 86400 * 10**6, 3600 * 10**6)))
    return pa.table({
        "k": [rng.choice("abc") for _ in times],
        "ts": pa.array(times, pa.timestamp("us")),
        "tz": pa.array(times, pa.timestamp("us", tz="UTC")),
        "v": [float(rng.randrange(100)) for _ in times],
    })


def local_answer(stored, sql, zone):
    local = duckdb.connect()
    local.execute(f"SET TimeZone = '{zone}'")
    local.register("stored", stored)
    local.execute("CREATE TABLE events AS SELECT * FROM stored")
    table = local.execute(sql).fetch_arrow_table()
    return table.column_names, rows_of(table)


def rows_of(table):
    return sorted((tuple(row.values()) for row in table.to_pylist()), key=repr)


def server_hour(cur):
    cur.execute("SELECT CAST(date_trunc('hour', now()) AS TIMESTAMP) AS h")
    return cur.fetchone()[0]


def test_clock_bounds_give_duckdbs_own_answer(start_server):
    server = start_server()
    rng = random.Random(5)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn, \
            conn.cursor() as cur:
        hour = server_hour(cur)
        back = [(rng.randrange(0, 72), rng.randrange(0, 60)) for _ in range(6)]
        marks = [hour, hour.replace(hour=0)] + [
            hour - datetime.timedelta(hours=h) + datetime.timedelta(minutes=m) for h, m in back]
        cur.adbc_ingest("events", rows_near(hour, marks, rng, 2000), mode="create")
        cur.execute("SELECT * FROM events")
        stored = cur.fetch_arrow_table()
        for attempt in range(2):  # again if the hour turned while asking
            checked = 0
            for sql in queries(rng, clock_values(back), 150):
                cur.execute(sql)
                got = cur.fetch_arrow_table()
                want = local_answer(stored, sql, "UTC")
                if server_hour(cur) != hour:
                    break
                assert (got.column_names, rows_of(got)) == want, sql
                checked += 1
            if checked == 150:
                break
            hour = server_hour(cur)
        assert checked == 150


def hours_to_clock_changes(hour, zone):
    """Hours back from `hour` (UTC) to each instant from two hours before to two hours after
    each change of `zone`'s clock in the last 400 days."""
    tz = zoneinfo.ZoneInfo(zone)
    start = hour.replace(tzinfo=datetime.timezone.utc)
    hours = []
    for back in range(1, 400 * 24):
        t = start - datetime.timedelta(hours=back)
        if t.astimezone(tz).utcoffset() != (t - datetime.timedelta(hours=1)).astimezone(tz).utcoffset():
            hours += [back + d for d in range(-2, 3)]
    assert len(hours) >= 5, "no change of the clock found"
    return hours


def test_a_prepared_query_follows_the_session_out_of_utc(start_server):
    """Prepared while the session is in UTC, then the session moves to America/New_York: the
    next execution runs the query as written (with daylight saving, TIMESTAMP and TIMESTAMPTZ
    times are no longer one to one, so the cast would differ around the change of hour)."""
    server = start_server()
    rng = random.Random(9)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn, \
            conn.cursor() as cur:
        hour = server_hour(cur)
        # Every half hour of the last 400 days, so the bounds below fall on both changes of
        # the clock in New York (rows in the hour that repeats and the hour that is skipped).
        marks = [hour - datetime.timedelta(minutes=30 * i) for i in range(400 * 48)]
        cur.adbc_ingest("events", rows_near(hour, marks[:2000], rng, 2000), mode="create")
        extra = pa.table({"k": ["d"] * len(marks),
                          "ts": pa.array(marks, pa.timestamp("us")),
                          "tz": pa.array(marks, pa.timestamp("us", tz="UTC")),
                          "v": [1.0] * len(marks)})
        cur.adbc_ingest("events", extra, mode="append")
        cur.execute("SELECT * FROM events")
        stored = cur.fetch_arrow_table()
        with conn.cursor() as prepared:
            for attempt in range(2):
                sqls = [f"SELECT k, count(*) AS n, sum(v) AS s FROM events WHERE ts {op} "
                        f"date_trunc('hour', now()) - INTERVAL '{h} hours' GROUP BY k"
                        for h in hours_to_clock_changes(hour, "America/New_York")
                        for op in (">=", "<")]
                answers = []
                cur.execute("SET TimeZone = 'UTC'")
                for sql in sqls:
                    prepared.adbc_prepare(sql)
                    prepared.execute(sql)
                    utc = prepared.fetch_arrow_table()
                    cur.execute("SET TimeZone = 'America/New_York'")
                    prepared.execute(sql)
                    new_york = prepared.fetch_arrow_table()
                    answers.append((sql, (utc.column_names, rows_of(utc)),
                                    (new_york.column_names, rows_of(new_york))))
                    cur.execute("SET TimeZone = 'UTC'")
                if server_hour(cur) == hour:
                    break
                hour = server_hour(cur)
        for sql, utc, new_york in answers:
            assert utc == local_answer(stored, sql, "UTC"), sql
            assert new_york == local_answer(stored, sql, "America/New_York"), sql
