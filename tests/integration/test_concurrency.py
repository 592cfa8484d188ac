"""Many clients at once: each session has its own DuckDB connection, writers and readers do
not block each other, and every row lands exactly once."""
import concurrent.futures
import json

import adbc_driver_flightsql.dbapi
import pyarrow as pa
import pyarrow.flight as flight

CLIENTS = 16


def test_sixteen_clients_write_and_read_their_own_tables(uri, table):
    def work(i):
        name = f"{table}_{i}"
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute(f"CREATE TABLE {name} (k INTEGER, v BIGINT)")
            for j in range(20):
                cur.execute(f"INSERT INTO {name} VALUES (?, ?)", parameters=(j, i * 1000 + j))
            cur.adbc_ingest(name, pa.table({"k": pa.array(range(100, 200), pa.int32()),
                                            "v": pa.array([i] * 100, pa.int64())}),
                            mode="append")
            cur.execute(f"SELECT count(*), sum(v) FROM {name}")
            return cur.fetchone()

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(work, range(CLIENTS)))
    for i, (count, total) in enumerate(results):
        assert count == 120
        assert total == sum(i * 1000 + j for j in range(20)) + 100 * i


def test_concurrent_appends_to_one_table_lose_nothing(uri, table):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        conn.cursor().execute(f"CREATE TABLE {table} (writer INTEGER, seq BIGINT)")

    def stream(i):
        client = flight.connect(uri)
        schema = pa.schema([("writer", pa.int32()), ("seq", pa.int64())])
        writer, acks = client.do_put(flight.FlightDescriptor.for_path(table), schema)
        last = None
        for b in range(10):
            writer.write_batch(pa.record_batch(
                [pa.array([i] * 500, pa.int32()), pa.array(range(b * 500, (b + 1) * 500))],
                schema=schema))
            last = json.loads(acks.read().to_pybytes())
        writer.close()
        client.close()
        return last["total_rows"]

    def read(_):
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            seen = []
            for _ in range(10):
                cur.execute(f"SELECT count(*) FROM {table}")
                seen.append(cur.fetchone()[0])
            return seen

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        writers = [pool.submit(stream, i) for i in range(8)]
        readers = [pool.submit(read, i) for i in range(8)]
        assert [w.result() for w in writers] == [5000] * 8
        for r in readers:
            seen = r.result()
            assert seen == sorted(seen)  # counts only grow
            assert all(n % 500 == 0 for n in seen)  # whole batches only
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT writer, count(*), count(DISTINCT seq) FROM {table} "
                    "GROUP BY writer ORDER BY writer")
        assert cur.fetchall() == [(i, 5000, 5000) for i in range(8)]


def test_a_long_query_does_not_block_other_clients(uri):
    """One client streams a large result slowly; others keep getting answers meanwhile."""
    slow = flight.connect(uri)
    import flightsql_wire as wire
    info = slow.get_flight_info(flight.FlightDescriptor.for_command(
        wire.statement_query("SELECT range AS x FROM range(5000000)")))
    reader = slow.do_get(info.endpoints[0].ticket)
    reader.read_chunk()  # the stream is open and its connection busy

    def quick(_):
        with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
            cur = conn.cursor()
            cur.execute("SELECT 41 + 1")
            return cur.fetchone()[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(quick, range(8))) == [42] * 8
    rows = sum(chunk.data.num_rows for chunk in reader) + 0
    assert rows > 0
    slow.close()
