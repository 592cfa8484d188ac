"""Deterministic benchmark data: every value is a function of the row number (and, where
sampled, of a fixed seed), so every run and every system gets the same rows.

* metric rows (metric_id VARCHAR 'm<k>', timestamp, value DOUBLE) as an Arrow table;
* the "wide" table (id BIGINT, value DOUBLE, label VARCHAR) as SQL expressions of a row
  number `i`, so each database generates it itself (WIDE_COLUMNS), checked by checksum.
"""
import pyarrow as pa
import pyarrow.compute as pc

START_US = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC, aligned to every window width
SEED = 20260101


def metric_rows(rows, keys, event_rate=10_000, late=True, first_row=0, start_us=START_US):
    """Rows `first_row`.. in time order from `start_us`, `event_rate` rows per second of event
    time, keys spread evenly, about 0.1% of them 3 minutes late (none if not `late`)."""
    i = pa.array(range(first_row, first_row + rows), pa.int64())
    ts = pc.multiply(i, 1_000_000 // event_rate)
    if late:
        is_late = pc.equal(pc.bit_wise_and(pc.multiply(i, 2654435761), 1023), 0)
        ts = pc.if_else(is_late, pc.subtract(ts, 180_000_000), ts)
    ts = pc.add(ts, start_us).cast(pa.timestamp("us"))
    ids = pc.cast(pc.bit_wise_and(pc.multiply(i, 2246822519), (1 << 30) - 1), pa.int64())
    ids = pc.binary_join_element_wise("m", pc.cast(pc.divide(pc.multiply(ids, keys), 1 << 30),
                                                   pa.string()), "")
    value = pc.divide(pc.cast(pc.bit_wise_and(pc.multiply(i, 7919), 65535), pa.float64()), 655.36)
    return pa.table({"metric_id": ids, "timestamp": ts, "value": value})


def rows_over_days(rows, keys, days, now_us):
    """metric_rows(late=False) spread evenly over the `days` days up to `now_us` (as after
    `days` of retention-bounded streaming), at least one row per second of event time."""
    rate = max(1, rows // (days * 86400))
    return metric_rows(rows, keys, event_rate=rate, late=False,
                       start_us=recent_start_us(rows, now_us, event_rate=rate))


def metric_row_sql(keys, i, event_rate=10_000):
    """metric_rows(late=False) as SQL expressions of the row number `i` (timestamps as
    epoch microseconds), for SQLite; any SQL with & and >> on 64-bit integers."""
    return {"metric_id": f"'m' || CAST(((({i} * 2246822519) & {(1 << 30) - 1}) * {keys}) >> 30 "
                         f"AS TEXT)",
            "timestamp": f"{START_US} + {i} * {1_000_000 // event_rate}",
            "value": f"(({i} * 7919) & 65535) / 655.36"}


def last_bucket_start_us(rows, event_rate=10_000, width_s=300, start_us=START_US):
    """Start (epoch us) of the newest `width_s` bucket of metric_rows(rows, late=False,
    start_us=start_us); `start_us` must be aligned to `width_s`."""
    newest = start_us + (rows - 1) * (1_000_000 // event_rate)
    return newest - (newest - start_us) % (width_s * 1_000_000)


def recent_start_us(rows, now_us, event_rate=10_000, width_s=300):
    """A start for metric_rows aligned to `width_s` whose rows all lie within `width_s` before
    `now_us`: data as if it had just streamed in, for queries relative to NOW()."""
    span = rows * (1_000_000 // event_rate)
    return (now_us - span) // (width_s * 1_000_000) * (width_s * 1_000_000)


# The wide table as expressions of the row number i, valid in DuckDB, PostgreSQL and SQLite.
WIDE_COLUMNS = {
    "id": "i",
    "value": "((i * 7919) % 65536) / 655.36",
    "label": "'item-' || CAST((i * 40503) % 1000003 AS VARCHAR)",
}


def wide_checksum(rows):
    """(count, sum of id) the wide table of `rows` rows must have."""
    return rows, rows * (rows - 1) // 2
