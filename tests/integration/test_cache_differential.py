"""Randomised differential test of the read cache in front of a REAL PostgreSQL: a random
sequence of writes through hyprstream (bulk ingest, SQL and prepared INSERTs, UPDATEs, DELETEs
of some rows and of the oldest, transactions that commit or roll back, with reads inside them)
against a model of the table kept here. After every step each query answered through
hyprstream (from the cache's copy, its result cache or PostgreSQL: whichever it picks) must
equal the model's answer, and so must PostgreSQL read directly. The run must have answered
from the cache, or it proves nothing."""
import collections
import concurrent.futures
import datetime as dt
import random

import adbc_driver_flightsql.dbapi
import adbc_driver_postgresql.dbapi
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightsql_wire as wire
from test_adbc_backend import CREDENTIALS, adbc_args
from test_cache import README_CACHE_FLAGS, utcnow

GROUPS = ["a", "b", "c", "d"]


class Model:
    """The table as it should be: id -> (grp, ts, v)."""

    def __init__(self):
        self.rows = {}

    def change(self, how):
        """Replaces each row for which how(grp, ts, v) gives a new (grp, ts, v)."""
        for i, row in list(self.rows.items()):
            new = how(*row)
            if new is not None:
                self.rows[i] = new

    def remove(self, which):
        """Deletes the rows for which which(id, grp, ts) holds."""
        for i in [i for i, (g, ts, _) in self.rows.items() if which(i, g, ts)]:
            del self.rows[i]

    def copy(self):
        other = Model()
        other.rows = dict(self.rows)
        return other

    def totals(self):
        values = [v for _, _, v in self.rows.values()]
        ids = list(self.rows)
        return [(len(values), sum(values) if values else None, min(ids) if ids else None,
                 max(ids) if ids else None)]

    def by_group(self):
        groups = collections.defaultdict(list)
        for grp, _, v in self.rows.values():
            groups[grp].append(v)
        return [(g, len(vs), sum(vs)) for g, vs in sorted(groups.items())]

    def recent(self, since):
        kept = [(i, v) for i, (_, ts, v) in self.rows.items() if ts > since]
        return [(len(kept), sum(v for _, v in kept) if kept else None)]

    def one(self, row_id):
        row = self.rows.get(row_id)
        return [(row_id, row[0], row[1], row[2])] if row else []


def queries(name, probe_id, since):
    literal = since.strftime("%Y-%m-%d %H:%M:%S.%f")
    return [
        (f"SELECT count(*) AS n, sum(v)::BIGINT AS s, min(id) AS lo, max(id) AS hi FROM {name}",
         lambda m: m.totals()),
        (f"SELECT grp, count(*) AS n, sum(v)::BIGINT AS s FROM {name} GROUP BY grp ORDER BY grp",
         lambda m: m.by_group()),
        (f"SELECT count(*) AS n, sum(v)::BIGINT AS s FROM {name} "
         f"WHERE ts > TIMESTAMP '{literal}'", lambda m: m.recent(since)),
        (f"SELECT id, grp, ts, v FROM {name} WHERE id = {probe_id}", lambda m: m.one(probe_id)),
    ]


def sql_time(ts):
    return f"TIMESTAMP '{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


ALL_WRITES = ("ingest", "ingest", "insert", "prepared", "update", "delete", "delete_oldest",
              "move", "copy", "truncate")


class Workload:
    """Random writes to table `name` over rows (id, grp, ts, v) with ts in the hour after
    `base`; each is applied to a Model too. `scope` (a group) keeps every write to that group's
    rows, ids from `first_id` on, so writers of different groups commute."""

    def __init__(self, rng, name, base, kinds=ALL_WRITES, scope=None, first_id=1):
        self.rng = rng
        self.name = name
        self.base = base
        self.kinds = kinds
        self.scope = scope
        self.next_id = first_id

    def group(self):
        return self.scope or self.rng.choice(GROUPS)

    def new_rows(self, n):
        rows = []
        for _ in range(n):
            ts = self.base + dt.timedelta(microseconds=self.rng.randrange(0, 3_600_000_000))
            rows.append((self.next_id, self.group(), ts, self.rng.randrange(-1000, 1000)))
            self.next_id += 1
        return rows

    def write(self, cur, model):
        """One random write on `cur`, applied to `model` too; returns what it did."""
        kind = self.rng.choice(self.kinds)
        name = self.name
        if kind in ("ingest", "insert", "prepared"):
            rows = self.new_rows(self.rng.randrange(1, {"ingest": 200}.get(kind, 5)))
            if kind == "ingest":
                columns = list(zip(*rows))
                cur.adbc_ingest(name, pa.table({
                    "id": pa.array(columns[0], pa.int64()), "grp": list(columns[1]),
                    "ts": pa.array(columns[2], pa.timestamp("us")),
                    "v": pa.array(columns[3], pa.int64())}), mode="append")
            elif kind == "insert":
                values = ", ".join(f"({i}, '{g}', {sql_time(ts)}, {v})" for i, g, ts, v in rows)
                cur.execute(f"INSERT INTO {name} VALUES {values}")
            else:
                cur.executemany(f"INSERT INTO {name} VALUES ($1, $2, $3, $4)", rows)
            for i, g, ts, v in rows:
                model.rows[i] = (g, ts, v)
            return f"{kind} {len(rows)}"
        if kind == "update":
            grp, delta = self.group(), self.rng.randrange(1, 10)
            cur.execute(f"UPDATE {name} SET v = v + {delta} WHERE grp = '{grp}'")
            model.change(lambda g, ts, v: (g, ts, v + delta) if g == grp else None)
            return f"update {grp} +{delta}"
        if kind == "move":  # rows move in time: in and out of the queries' ranges
            grp, minutes = self.group(), self.rng.randrange(-20, 20)
            cur.execute(f"UPDATE {name} SET ts = ts + INTERVAL '{minutes} minutes' "
                        f"WHERE grp = '{grp}'")
            model.change(lambda g, ts, v: (g, ts + dt.timedelta(minutes=minutes), v)
                         if g == grp else None)
            return f"move {grp} {minutes}m"
        if kind == "delete":
            m, r = self.rng.randrange(3, 9), self.rng.randrange(0, 3)
            only = f" AND grp = '{self.scope}'" if self.scope else ""
            cur.execute(f"DELETE FROM {name} WHERE id % {m} = {r}{only}")
            model.remove(lambda i, g, ts: i % m == r and g == (self.scope or g))
            return f"delete id%{m}={r}{only}"
        assert self.scope is None, f"{kind} touches every group's rows"
        if kind == "copy":  # INSERT ... SELECT from the table itself
            grp, offset = self.group(), self.next_id
            cur.execute(f"INSERT INTO {name} SELECT id + {offset}, grp, ts, v * 2 FROM {name} "
                        f"WHERE grp = '{grp}'")
            copied = {i + offset: (g, ts, v * 2) for i, (g, ts, v) in model.rows.items()
                      if g == grp}
            model.rows.update(copied)
            self.next_id = max([self.next_id] + [i + 1 for i in copied])
            return f"copy {grp} ({len(copied)})"
        if kind == "truncate":
            if self.rng.random() < 0.5:
                return "no truncate"
            cur.execute(f"TRUNCATE {name}")
            model.rows.clear()
            return "truncate"
        # A retention DELETE of the oldest rows (the cache may follow it instead of reloading).
        if not model.rows:
            return "nothing to trim"
        times = sorted(ts for _, ts, _ in model.rows.values())
        cutoff = times[len(times) // self.rng.randrange(3, 8)]
        cur.execute(f"DELETE FROM {name} WHERE ts < {sql_time(cutoff)}")
        model.remove(lambda i, g, ts: ts < cutoff)
        return f"delete ts<{cutoff}"


def answer(client, sql):
    info = client.get_flight_info(flight.FlightDescriptor.for_command(wire.statement_query(sql)))
    table = client.do_get(info.endpoints[0].ticket).read_all()
    source = (table.schema.metadata or {}).get(b"hyprstream.source", b"?").decode()
    return [tuple(row.values()) for row in table.to_pylist()], source


@pytest.mark.parametrize("seed", [11, 23, 37, 41, 59])
def test_cached_answers_equal_the_model_and_postgres_through_random_writes(postgres, start_server,
                                                                            seed):
    rng = random.Random(seed)
    name = f"cd_{seed}_{rng.randrange(10**8)}"
    server = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-result-ttl", "60s",
                          env=CREDENTIALS)
    base = utcnow() - dt.timedelta(hours=1)
    work = Workload(rng, name, base)
    model = Model()
    sources = collections.Counter()
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn, \
            adbc_driver_postgresql.dbapi.connect(postgres.uri, autocommit=True) as pg, \
            flight.connect(server.uri) as client:
        writer = conn.cursor()
        writer.execute(f"CREATE TABLE {name} (id BIGINT, grp TEXT, ts TIMESTAMP, v BIGINT)")
        pg_cur = pg.cursor()

        def check(step, what):
            since = base + dt.timedelta(minutes=rng.randrange(0, 60))
            probe = rng.randrange(1, max(2, work.next_id))
            for sql, expected in queries(name, probe, since):
                want = expected(model)
                got, source = answer(client, sql)
                sources[source] += 1
                assert got == want, f"step {step} ({what}), answered from {source}: {sql}"
                pg_cur.execute(sql)
                assert pg_cur.fetchall() == want, f"step {step} ({what}), PostgreSQL: {sql}"

        check(0, "empty")
        for step in range(1, 81):
            if rng.random() < 0.2:
                # A transaction: its own reads see its writes; COMMIT applies them, ROLLBACK not.
                inside = model.copy()
                done = []
                with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as tx_conn:
                    tx = tx_conn.cursor()
                    tx.execute("BEGIN")
                    for _ in range(rng.randrange(1, 4)):
                        done.append(work.write(tx, inside))
                    sql, expected = queries(name, 1, base)[0]
                    tx.execute(sql)
                    assert tx.fetchall() == expected(inside), f"step {step}: inside {done}"
                    commit = rng.random() < 0.6
                    tx.execute("COMMIT" if commit else "ROLLBACK")
                if commit:
                    model = inside
                what = f"transaction {done} {'committed' if commit else 'rolled back'}"
            else:
                what = work.write(writer, model)
            check(step, what)
    # Answers must have come from the cache's copy for the test to mean anything.
    assert sources["cache"] + sources["result-cache"] >= 40, sources


# Writes that touch only the writer's own group (grp) and ids, so writers commute: appends,
# which the cache follows row by row, or those mixed with UPDATEs and DELETEs, each of which has
# the cache reload the table (the backend answers meanwhile).
APPENDS = ("ingest", "ingest", "insert", "prepared")
MIXED = APPENDS + ("update", "move", "delete")


@pytest.mark.parametrize("mix", ["appends", "mixed"])
@pytest.mark.parametrize("seed", [5, 17])
def test_concurrent_writers_each_read_their_own_writes_through_the_cache(postgres, start_server,
                                                                          seed, mix):
    """Four sessions write at once, each only its own group (so their writes commute); after
    each of its writes a session's read of its group through hyprstream equals its model, and
    at the end every answer equals the union of the models and PostgreSQL. With appends alone
    most answers come from the cache; mixed with UPDATEs and DELETEs, whose reloads leave the
    table to the backend most of the time under four writers, the answers must still agree."""
    name = f"cw_{mix}_{seed}_{random.Random(seed).randrange(10**8)}"
    server = start_server(*adbc_args(postgres), *README_CACHE_FLAGS, "--cache-result-ttl", "60s",
                          env=CREDENTIALS)
    base = utcnow() - dt.timedelta(hours=1)
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        conn.cursor().execute(f"CREATE TABLE {name} (id BIGINT, grp TEXT, ts TIMESTAMP, v BIGINT)")

    def writer(index):
        rng = random.Random(seed * 100 + index)
        group = GROUPS[index]
        work = Workload(rng, name, base, APPENDS if mix == "appends" else MIXED, scope=group,
                        first_id=1 + index * 10**6)
        model = Model()
        sources = collections.Counter()
        mine = (f"SELECT count(*) AS n, sum(v)::BIGINT AS s, min(ts) AS first FROM {name} "
                f"WHERE grp = '{group}'")
        with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as own, \
                flight.connect(server.uri) as client:
            cur = own.cursor()
            for step in range(40):
                what = work.write(cur, model)
                rows = list(model.rows.values())
                want = [(len(rows), sum(v for _, _, v in rows) if rows else None,
                         min((ts for _, ts, _ in rows), default=None))]
                got, source = answer(client, mine)
                sources[source] += 1
                assert got == want, f"writer {group} step {step} ({what}), from {source}"
        return model, sources

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(writer, range(4)))
    union = Model()
    sources = collections.Counter()
    for model, counted in results:
        union.rows.update(model.rows)
        sources.update(counted)
    with flight.connect(server.uri) as client, \
            adbc_driver_postgresql.dbapi.connect(postgres.uri, autocommit=True) as pg:
        pg_cur = pg.cursor()
        for sql, expected in queries(name, 1 + 10**6, base + dt.timedelta(minutes=30)):
            want = expected(union)
            got, source = answer(client, sql)
            assert got == want, f"after the writers, from {source}: {sql}"
            pg_cur.execute(sql)
            assert pg_cur.fetchall() == want, f"after the writers, PostgreSQL: {sql}"
    if mix == "appends":
        assert sources["cache"] + sources["result-cache"] >= 40, sources
