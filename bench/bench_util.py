"""Timing helpers shared by the Python benchmarks: percentiles, best-of-N, repeated queries.
Wall-clock (time.perf_counter); single-threaded unless a caller says otherwise."""
import statistics
import time


def percentile(samples, p):
    """The p-th percentile (nearest rank) of a non-empty list of numbers."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def median(samples):
    return statistics.median(samples)


def ms(seconds):
    return round(seconds * 1000, 3)


def best_of(repeats, fn, before=None):
    """Runs fn() `repeats` times (before() untimed ahead of each); returns the fastest wall
    time in seconds and fn's last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def timed(cur, sql, repeats):
    """Wall time of each of `repeats` executions of `sql` on a DB-API cursor, result fetched
    as Arrow."""
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        cur.execute(sql)
        cur.fetch_arrow_table()
        samples.append(time.perf_counter() - t)
    return samples
