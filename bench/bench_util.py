"""Timing helpers shared by the Python benchmarks: percentiles, best-of-N, repeated queries,
and what another process has used (CPU time, resident memory) from /proc.
Wall-clock (time.perf_counter); single-threaded unless a caller says otherwise."""
import os
import pathlib
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


def process_cpu_seconds(pid, children=False):
    """CPU time (user + system) process `pid` has used so far; with `children`, also that of
    its children: the ones it has reaped and the ones still running (PostgreSQL's postmaster
    and its backends)."""
    def fields(p):
        return pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    own = fields(pid)
    ticks = int(own[11]) + int(own[12])
    if not children:
        return ticks / os.sysconf("SC_CLK_TCK")
    # A child reaped while /proc is walked would be counted twice or not at all (PostgreSQL's
    # autovacuum workers come and go): walk again until no child was reaped meanwhile.
    for _ in range(10):
        reaped = int(own[13]) + int(own[14])  # cutime + cstime of reaped children
        live = 0
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                child = fields(entry.name)
            except OSError:  # gone meanwhile
                continue
            if int(child[1]) == pid:  # ppid (an exited, unreaped child still counts)
                live += int(child[11]) + int(child[12])
        own = fields(pid)
        if int(own[13]) + int(own[14]) == reaped:
            break
    return (int(own[11]) + int(own[12]) + reaped + live) / os.sysconf("SC_CLK_TCK")


def resident_mb(pid):
    """(VmRSS, VmHWM) of process `pid` in MB."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) / 1024
    return out["VmRSS"], out["VmHWM"]
