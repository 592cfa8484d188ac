"""PostgreSQL restarts while writers and readers work through hyprstream (ADBC engine, windows
on `metrics`, with and without the cache). Every write acknowledged to a client is stored
whole; every write that failed is stored whole or not at all; the server keeps serving and,
once PostgreSQL is back, its windows answer as PostgreSQL does."""
import datetime as dt
import threading
import time

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pytest

from test_cache import README_CACHE_FLAGS, utcnow
from test_windows_postgres_direct import (  # noqa: F401 (direct: a fixture)
    assert_windows_answer_as_postgresql, direct, wait_answering)

BATCH = 20


def batch_of(writer, n, base):
    """Writer `writer`'s n-th batch: values writer * 1e6 + n * BATCH + i, so a stored row says
    which batch it came from."""
    return pa.table({
        "metric_id": [f"w{writer}"] * BATCH,
        "timestamp": pa.array([base + dt.timedelta(milliseconds=(n * BATCH + i) * 7 + writer)
                               for i in range(BATCH)], pa.timestamp("us")),
        "value": [float(writer * 1_000_000 + n * BATCH + i) for i in range(BATCH)]})


@pytest.mark.parametrize("cache", [False, True], ids=["postgresql", "behind-the-cache"])
def test_writes_through_a_backend_restart_are_whole_and_the_windows_agree(postgres, direct,
                                                                         cache):
    server = direct.start(*(README_CACHE_FLAGS if cache else []),
                          pool="pool_max=10&pool_min=1&connect_timeout=5")
    base = utcnow() - dt.timedelta(minutes=30)
    stop = threading.Event()
    acknowledged, failed, read_errors = [], [], []

    def write(writer):
        n = 0
        while not stop.is_set():
            batch = batch_of(writer, n, base)
            try:
                with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
                    cur = conn.cursor()
                    if n % 2:  # bulk ingest and SQL INSERTs in turn
                        cur.adbc_ingest("metrics", batch, mode="append")
                    else:
                        values = ", ".join(
                            f"('w{writer}', TIMESTAMP '{t}', {v})"
                            for t, v in zip(batch["timestamp"].to_pylist(),
                                            batch["value"].to_pylist()))
                        cur.execute("INSERT INTO metrics (metric_id, timestamp, value) "
                                    f"VALUES {values}")
                acknowledged.append((writer, n))
            except Exception:  # noqa: BLE001 (PostgreSQL is down: checked below)
                failed.append((writer, n))
            n += 1

    def read():
        while not stop.is_set():
            try:
                with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
                    cur = conn.cursor()
                    cur.execute("SELECT metric_id, count(*) FROM metrics GROUP BY metric_id")
                    cur.fetchall()
            except Exception as e:  # noqa: BLE001
                read_errors.append(str(e))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        postgres.stop()
        time.sleep(0.5)
        postgres.start()
        time.sleep(2.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert server.process.poll() is None, "the server died"
    assert failed, "PostgreSQL's restart failed no write: it proves nothing"
    stored = {}
    for (value,) in direct.stored("SELECT value FROM metrics"):
        writer = int(value // 1_000_000)
        key = (writer, int((value - writer * 1_000_000) // BATCH))
        stored[key] = stored.get(key, 0) + 1
    assert [k for k in acknowledged if stored.get(k) != BATCH] == [], "acknowledged, not stored"
    assert [k for k in failed if stored.get(k, 0) not in (0, BATCH)] == [], "stored in part"
    assert len(acknowledged) > len(failed)  # writes went on once PostgreSQL was back
    for error in read_errors:
        assert "backend unreachable" in error or "Unavailable" in error, error
    assert set(wait_answering(server).values()) == {"answering"}, server.log()[-3000:]
    assert_windows_answer_as_postgresql(server, direct)
