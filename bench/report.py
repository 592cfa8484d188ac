"""Writes a bench/run result: the JSON as measured, a Markdown report (tables with every
headline figure also as a ratio to the in-process DuckDB baseline of the same run, and the
targets met / not met) and PNG bar charts of hyprstream beside each peer."""
import json
import pathlib

BASELINE = "duckdb-inproc"
HYPR = "hyprstream"
PG_STACK = "hyprstream+pg-cache"  # hyprstream over PostgreSQL with the DuckDB cache
PEERS = ["duckdb-inproc", "arrow-go", "postgres"]

# (workload, figure, unit, higher is better)
HEADLINES = {
    "point_query": [("p50_ms", "p50 ms", False), ("p95_ms", "p95 ms", False),
                    ("p99_ms", "p99 ms", False)],
    "throughput": None,  # one column per client count, filled in from the data
    "large_result": [("rows_per_s", "rows/s", True), ("mb_per_s", "MB/s", True)],
    "bulk_ingest": [("rows_per_s", "rows/s", True)],
    "streaming_ingest": [("rows_per_s", "rows/s", True),
                         ("visible_p50_ms", "visible p50 ms", False),
                         ("visible_p99_ms", "visible p99 ms", False)],
    "window_query": [("window_p50_ms", "window read p50 ms", False),
                     ("group_by_p50_ms", "GROUP BY p50 ms", False)],
}
TITLES = {
    "point_query": "1. Point query round trip (SELECT … WHERE id = ?, one client)",
    "throughput": "2. Small-query throughput (point queries/s, N client threads)",
    "large_result": "3. Large result streamed to the client (BIGINT, DOUBLE, VARCHAR)",
    "bulk_ingest": "4. Bulk ingest of narrow metric rows (metric_id, timestamp, value)",
    "streaming_ingest": "5. Streaming ingest, 1k-row batches",
    "window_query": "6. Current 5m aggregates for every key",
}

# What the profiles (perf on both processes, 2026-11-25, quick sizes, busy 2-core machine)
# say limits us where a target is missed; printed under the targets table when missed.
LIMITS = {
    "point query p50 ≤ 1.5× PostgreSQL's":
        "point query: per-query fixed costs on both sides (CPU per query is in the table's "
        "CPU table). Client: the ADBC Flight SQL driver (Go, cgo) spends ~3 ms of CPU per "
        "prepared execution (perf: Go runtime GC and goroutine switches, 22% of samples in the "
        "kernel's task switch) against ~0.2 ms for the PostgreSQL driver, and an execution is "
        "three RPCs (DoPut of the parameters, GetFlightInfo, DoGet) where PostgreSQL makes one "
        "round trip. Server: ~2 ms of CPU per point query; perf of hyprstream: DuckDB 35% "
        "(setting up and scheduling the query's tasks across its worker threads, measured with "
        "4 threads on 2 cores; one per core since), kernel 27% (thread wake-ups and "
        "switches), gRPC/Flight 15%, malloc 12%, hyprstream's own code under 3%. The "
        "arrow-go server with the same client lands in the same range.",
    "window query ≥ 50× faster than the best peer's GROUP BY":
        "window read: per-query and per-row costs on the way out, not the window state "
        "(read from memory). The CPU per read is in the window table's notes: at 10k keys "
        "about 4 ms in the server, of which ~2 ms is the fixed cost every query pays (see "
        "the point query) and the rest building one row per key (served as Arrow straight "
        "from the window store since direct window reads; before, the rows went through a "
        "DuckDB table function and were converted back to Arrow), and about 5 ms in the "
        "client (the ADBC driver's fixed cost plus decoding). The GROUP BY it is compared "
        "with runs in-process, with no such fixed costs.",
    "bulk ingest ≥ 5× PostgreSQL (rows/s)":
        "bulk ingest vs PostgreSQL: PostgreSQL runs with durability off and the driver's "
        "binary COPY into a table without indexes, which is fast. hyprstream's cost is on "
        "the server (its CPU per run is in the table's notes): see the next line.",
    "bulk ingest ≥ 0.7× DuckDB in-process (rows/s)":
        "bulk ingest vs in-process: the hyprstream server spends more CPU per run than DuckDB "
        "in-process spends in total (table notes). perf of the server during adbc_ingest: "
        "DuckDB's insert path (Arrow-to-DuckDB conversion, string storage, column statistics) "
        "~30% of samples, DuckDB task scheduling and mutexes ~15% for each 64k-row batch, "
        "page faults on fresh allocations ~6%. The former floor of 4 DuckDB threads on 2 "
        "cores is gone (one worker per core since 2026-11-25: bulk ingest went from 7.6M to "
        "12.0M rows/s and the large result from 13.8M to 22.1M rows/s in the full runs); "
        "what is left is the per-batch scheduling and the insert path: larger batches per "
        "INSERT would cut the per-batch share.",
    "large result ≥ 0.7× DuckDB in-process (rows/s)":
        "large result vs in-process: in process DuckDB hands its Arrow batches to Python "
        "without a copy or a socket; over Flight the server serialises them to IPC and gRPC "
        "and the client receives and decodes them; the CPU each side spends is in the "
        "table's notes. On 2 cores shared by client and server the two costs add up almost "
        "serially, so the ratio is at its worst on this machine.",
}


def headlines(workload, results):
    spec = HEADLINES[workload]
    if spec is None:
        keys = sorted({k for r in results.values() for k in r if k.startswith("qps_")},
                      key=lambda k: int(k[4:]))
        spec = [(k, f"{k[4:]} clients q/s", True) for k in keys]
    return spec


def speed(value, base, higher):
    """How many times as fast as the baseline (>1 = faster)."""
    if not value or not base:
        return None
    return value / base if higher else base / value


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float) and v < 100:
        return f"{v:,.3g}" if v < 10 else f"{v:,.1f}"
    return f"{v:,.0f}"


def targets(results):
    """[(target, measured ratio text, met)] for the issue's targets present in this run."""
    r = lambda w, s, k: results.get(w, {}).get(s, {}).get(k)  # noqa: E731
    out = []

    def ratio_target(text, num, den, threshold, lower_is_better=False):
        if num is None or den is None or not den:
            out.append((text, "not measured", None))
            return
        ratio = num / den
        met = ratio <= threshold if lower_is_better else ratio >= threshold
        out.append((text, f"{ratio:.2f}×", met))

    lr = lambda s: r("large_result", s, "rows_per_s")  # noqa: E731
    bi = lambda s: r("bulk_ingest", s, "rows_per_s")  # noqa: E731
    ratio_target("large result ≥ 0.7× DuckDB in-process (rows/s)", lr(HYPR), lr(BASELINE), 0.7)
    ratio_target("large result ≥ 3× arrow-go (rows/s)", lr(HYPR), lr("arrow-go"), 3)
    ratio_target("bulk ingest ≥ 0.7× DuckDB in-process (rows/s)", bi(HYPR), bi(BASELINE), 0.7)
    ratio_target("bulk ingest ≥ 5× PostgreSQL (rows/s)", bi(HYPR), bi("postgres"), 5)
    ratio_target("point query p50 ≤ 1.5× PostgreSQL's", r("point_query", HYPR, "p50_ms"),
                 r("point_query", "postgres", "p50_ms"), 1.5, lower_is_better=True)
    peers = [r("window_query", s, "group_by_p50_ms") for s in PEERS]
    peers = [p for p in peers if p]
    ratio_target("window query ≥ 50× faster than the best peer's GROUP BY",
                 min(peers) if peers else None, r("window_query", HYPR, "window_p50_ms"), 50)
    ratio_target("windows over PostgreSQL: window read ≥ 20× faster than PostgreSQL's GROUP BY",
                 r("window_query", "postgres", "group_by_p50_ms"),
                 r("window_query", PG_STACK, "window_p50_ms"), 20)
    return out


def clients(n):
    return f"{n} client" + ("s" if n != 1 else "")


def issue15_targets(results):
    """[(target, measured text, met)] for issue 15's targets ("Millisecond answers for
    real"); met is None where this run has no data for the target."""
    r = lambda w, s, k: results.get(w, {}).get(s, {}).get(k)  # noqa: E731
    out = []

    def check(text, value, limit, at_most, shown):
        if value is None:
            out.append((text, "not measured", None))
        else:
            out.append((text, shown(value), value <= limit if at_most else value >= limit))

    def ratio(num, den):
        return num / den if num is not None and den else None

    times = lambda v: f"{v:.2f}×"  # noqa: E731
    millis = lambda v: f"{v:.3g} ms"  # noqa: E731
    point = lambda s: r("point_query", s, "p50_ms")  # noqa: E731
    floor = results.get("point_query", {}).get(HYPR, {}).get("floor", {})
    check("prepared point query p50 over ADBC ≤ 0.67× arrow-go's",
          ratio(point(HYPR), point("arrow-go")), 0.67, True, times)
    cpu = r("point_query", HYPR, "server_cpu_ms_per_query")
    check("server CPU per point query ≤ 0.4 ms (ADBC run)", cpu, 0.4, True,
          lambda v: millis(v) + (f" (floor client run: {floor['server_cpu_ms_per_query']} ms)"
                                 if "server_cpu_ms_per_query" in floor else ""))
    levels = sorted({int(k[4:]) for s in (HYPR, "arrow-go")
                     for k in results.get("throughput", {}).get(s, {}) if k.startswith("qps_")})
    for n in levels or [1, 8, 64]:
        check(f"point throughput at {clients(n)} ≥ 1.5× arrow-go",
              ratio(r("throughput", HYPR, f"qps_{n}"), r("throughput", "arrow-go", f"qps_{n}")),
              1.5, False, times)
    check("floor client point p50 ≤ 2× PostgreSQL's p50 (ADBC)",
          ratio(floor.get("p50_ms"), point("postgres")), 2, True, times)
    large = lambda s: r("large_result", s, "rows_per_s")  # noqa: E731
    check("large result ≥ 0.75× DuckDB in-process (rows/s)",
          ratio(large(HYPR), large(BASELINE)), 0.75, False, times)
    check("current 5m window over ADBC ≤ 5 ms (p50)", r("window_query", HYPR, "window_p50_ms"),
          5, True, millis)
    check("ingest ≥ 4M rows/s (bulk ingest into a plain table; the windowed metrics table: "
          "bench/metrics_ingest_bench.py)",
          r("bulk_ingest", HYPR, "rows_per_s"), 4e6, False, lambda v: f"{v / 1e6:.2f}M rows/s")
    return out


def markdown(data, images):
    meta, results = data["meta"], data["results"]
    lines = [f"# hyprstream benchmark, {meta['date']}", ""]
    if meta.get("development"):
        lines += ["**Development run** on a shared, busy machine: numbers are noisy; the final "
                  "figures come from a full run on a quiet machine.", ""]
    if meta["scaled_down"]:
        lines += [f"**{meta['mode']} mode: row counts scaled down** (see sizes below); the "
                  "full mode measures the issue's sizes.", ""]
    if meta.get("note"):
        lines += [meta["note"], ""]
    s = meta["sizes"]
    lines += [f"Commit `{meta['commit']}`, {meta['cpus']} CPUs, {meta['machine']}, pyarrow "
              f"{meta['pyarrow']}, duckdb {meta['duckdb']}, run took {meta['duration_s']} s.",
              "",
              f"Sizes: point table {s['points']:,} rows ({s['point_samples']:,} timed queries); "
              f"throughput {s['seconds_per_level']} s per client count; large result "
              f"{s['wide_rows']:,} rows; bulk ingest {s['bulk_rows']:,} rows (arrow-go "
              f"{s['bulk_rows_slow']:,}: row-by-row inserts); streaming "
              f"{s['stream_batches']:,} + {s['latency_batches']:,} batches of "
              f"{s['batch_rows']:,} rows; windows {s['window_rows']:,} rows over "
              f"{s['window_keys']:,} keys; best of {s['repeats']} for throughput figures.", "",
              f"Ratios: **× {BASELINE}** = how many times as fast as DuckDB in-process (the "
              "limit: same data, no network) in this run; > 1 is faster.", ""]
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for text, measured, met in targets(results):
        verdict = "n/a" if met is None else "met" if met else "**not met**"
        lines.append(f"| {text} | {measured} | {verdict} |")
    missed = [t for t, _, met in targets(results) if met is False]
    if missed and LIMITS:
        lines += ["", "What limits us where a target is missed (profiles):", ""]
        lines += [f"- {LIMITS[t]}" for t in missed if t in LIMITS]
    lines.append("")
    lines += ["## Targets (issue 15)", "", "| target | measured | met |", "|---|---|---|"]
    for text, measured, met in issue15_targets(results):
        verdict = "n/a" if met is None else "met" if met else "**not met**"
        lines.append(f"| {text} | {measured} | {verdict} |")
    lines += ["", "Ratios are hyprstream's figure over the peer's; \"floor client\" is "
              "bench/floor_client.cc (Arrow's C++ Flight client, no ADBC driver)."]
    if meta["scaled_down"]:
        lines += ["", f"Measured at the {meta['mode']} mode's scaled-down sizes."]
    lines.append("")
    for w, by_system in results.items():
        spec = headlines(w, by_system)
        base = dict(by_system.get(BASELINE, {}))
        if w == "window_query":  # the window read answers what the baseline's GROUP BY does
            base["window_p50_ms"] = base.get("group_by_p50_ms")
        lines += [f"## {TITLES[w]}", ""]
        header = ["system"] + [f"{label} | × {BASELINE}" for _, label, _ in spec]
        lines += ["| " + " | ".join(header) + " |",
                  "|" + "---|" * (1 + 2 * len(spec))]
        for name, fig in by_system.items():
            if "error" in fig:
                lines.append(f"| {name} | error: {fig['error']} |")
                continue
            cells = [name]
            for key, _, higher in spec:
                ratio = speed(fig.get(key), base.get(key), higher)
                cells += [fmt(fig.get(key)), "–" if ratio is None else f"{ratio:.2f}×"]
            lines.append("| " + " | ".join(cells) + " |")
            floor = fig.get("floor")
            if floor is not None:  # the same queries from the C++ floor client
                if "error" in floor:
                    lines.append(f"| {name} floor client | error: {floor['error']} |")
                    continue
                cells = [f"{name} floor client"]
                for key, _, higher in spec:
                    ratio = speed(floor.get(key), base.get(key), higher)
                    cells += [fmt(floor.get(key)), "–" if ratio is None else f"{ratio:.2f}×"]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += _cpu_table(w, by_system)
        notes = _notes(w, by_system, meta)
        lines += notes + ([""] if notes else [])
        if w in images:
            lines += [f"![{TITLES[w]}]({images[w]})", ""]
    if meta["errors"]:
        lines += ["## Errors", ""] + [f"- {e}" for e in meta["errors"]] + [""]
    return "\n".join(lines)


def _notes(w, by_system, meta):
    systems = meta["systems"]
    if w == "bulk_ingest":
        return [f"- {n}: {systems[n]['bulk_path']}" for n in by_system if n in systems] + \
            _cpu_notes(by_system)
    if w == "large_result":
        return _cpu_notes(by_system)
    if w == "streaming_ingest":
        return [f"- {n}: {systems[n]['stream_path']}" for n in by_system if n in systems] + [
            "- rows/s: first batch sent until a query on a second connection sees the last "
            "row; visible: one batch sent, committed (hyprstream's ack, the peer's ingest "
            "call returning), then queried from the second connection until seen."]
    if w == "window_query":
        out = ["- hyprstream window read: `hyprstream_window('metrics', width := '5m', "
               "current := 'true')` from the maintained windows. GROUP BY: count, sum, avg, "
               "min, max of value per metric_id over the raw rows of the newest 5m bucket "
               "(PostgreSQL and SQLite with an index on timestamp; DuckDB uses zone maps).",
               f"- {PG_STACK}: the same window read with the metrics table in PostgreSQL "
               "(written through, running columns computed by hyprstream); its GROUP BY is "
               "answered by the DuckDB cache, the repeats from the result it keeps "
               "(--cache-result-ttl). bench/window_pg_bench.py measures this stack's ingest "
               "with and without windows and the README query."]
        for n, fig in by_system.items():
            if "window_client_cpu_ms" in fig:
                server = (f", server process {fig['window_server_cpu_ms']} ms"
                          if "window_server_cpu_ms" in fig else "")
                out.append(f"- {n}: CPU per window read: client process "
                           f"{fig['window_client_cpu_ms']} ms{server}")
            if "window_keys" in fig:
                out.append(f"- {n}: window read {fig['window_keys']:,} keys / "
                           f"{fig['window_samples']:,} rows, GROUP BY {fig['group_by_keys']:,} "
                           f"keys / {fig['group_by_samples']:,} rows")
        return out
    if w == "point_query":
        return ["- floor client: bench/floor_client.cc, the same prepared query and counts, "
                "keys from the same range, over Arrow's C++ Flight client alone (DoPut of the "
                "parameter, GetFlightInfo, DoGet per query, as the ADBC driver does), in its "
                "own process: what the server costs without the ADBC Flight SQL driver (Go, "
                "cgo, Python) on the client side."]
    if w == "throughput":
        return ["- One connection per client thread in this Python process (the ADBC and "
                "DuckDB clients release the GIL while waiting); clients and servers share "
                "the machine's CPUs."]
    return []


def _cpu_table(w, by_system):
    """CPU ms per query of the client and server processes (server: hyprstream's process,
    the arrow-go server's, PostgreSQL's postmaster and backends; hyprstream+pg-cache counts
    hyprstream and its PostgreSQL). Client: the benchmark's Python process with its driver,
    or the floor client's own process."""
    rows = []
    for name, fig in by_system.items():
        if w == "point_query":
            if "client_cpu_ms_per_query" in fig:
                rows.append((name, "ADBC" if name != BASELINE else "in process",
                             fig["client_cpu_ms_per_query"], fig.get("server_cpu_ms_per_query")))
            floor = fig.get("floor", {})
            if "client_cpu_ms_per_query" in floor:
                rows.append((name, "floor client", floor["client_cpu_ms_per_query"],
                             floor.get("server_cpu_ms_per_query")))
        elif w == "throughput":
            levels = sorted(int(k.rsplit("_", 1)[1]) for k in fig
                            if k.startswith("client_cpu_ms_per_query_"))
            rows += [(name, clients(n), fig[f"client_cpu_ms_per_query_{n}"],
                      fig.get(f"server_cpu_ms_per_query_{n}")) for n in levels]
    if not rows:
        return []
    out = ["CPU per query (ms):", "", "| system | client | client CPU | server CPU |",
           "|---|---|---|---|"]
    out += [f"| {n} | {how} | {c} | {'–' if srv is None else srv} |"
            for n, how, c, srv in rows]
    return out + [""]


def _cpu_notes(by_system):
    """Wall and CPU seconds of one repetition (CPU averaged over the repetitions)."""
    out = []
    for n, fig in by_system.items():
        if "client_cpu_s" in fig:
            server = (f", server process {fig['server_cpu_s']} s" if "server_cpu_s" in fig
                      else "")
            out.append(f"- {n}: {fig['seconds']} s wall; CPU: client process "
                       f"{fig['client_cpu_s']} s{server}")
    return out


def plot(data, out_dir, stem):
    """One PNG per workload: bars per system, hyprstream highlighted. Returns names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = {}
    colors = {"hyprstream": "#d62728", "duckdb-inproc": "#7f7f7f", "arrow-go": "#1f77b4",
              "postgres": "#2ca02c"}
    for w, by_system in data["results"].items():
        ok = {n: f for n, f in by_system.items() if "error" not in f}
        if not ok:
            continue
        if w == "window_query":  # one chart: the window read beside every GROUP BY
            panels = [("p50 ms", False,
                       [(f"{n}\nwindow read" if k == "window_p50_ms" else f"{n}\nGROUP BY",
                         n, f[k]) for n, f in ok.items()
                        for k in ("window_p50_ms", "group_by_p50_ms") if f.get(k)])]
        else:
            panels = [(label, higher, [(n, n, ok[n][key]) for n in ok
                                       if ok[n].get(key) is not None] +
                       [(f"{n}\nfloor client", n, ok[n]["floor"][key]) for n in ok
                        if ok[n].get("floor", {}).get(key) is not None])
                      for key, label, higher in headlines(w, ok)]
        fig, axes = plt.subplots(1, len(panels), figsize=(max(4.2 * len(panels), 6), 3.8),
                                 squeeze=False)
        for ax, (label, higher, bars_spec) in zip(axes[0], panels):
            names = [b[0] for b in bars_spec]
            values = [b[2] for b in bars_spec]
            bars = ax.bar(names, values, color=[colors.get(b[1], "#9467bd") for b in bars_spec])
            ax.bar_label(bars, labels=[fmt(v) for v in values], fontsize=7)
            ax.set_title(f"{label} ({'higher' if higher else 'lower'} is better)", fontsize=9)
            if values and min(values) > 0 and max(values) / min(values) > 50:
                ax.set_yscale("log")
            ax.tick_params(axis="x", labelsize=7, rotation=20)
        fig.suptitle(TITLES[w] + (" — scaled down" if data["meta"]["scaled_down"] else ""),
                     fontsize=10)
        fig.tight_layout()
        name = f"{stem}-{w}.png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        images[w] = name
    return images


def write(data, out_dir, stem, plots=True):
    out_dir = pathlib.Path(out_dir)
    data["targets"] = [{"target": t, "measured": m, "met": met,
                        **({"limited_by": LIMITS[t]} if met is False and t in LIMITS else {})}
                       for t, m, met in targets(data["results"])]
    data["targets_issue15"] = [{"target": t, "measured": m, "met": met}
                               for t, m, met in issue15_targets(data["results"])]
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    images = plot(data, out_dir, stem) if plots else {}
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(data, images))
    return [json_path, md_path] + [out_dir / i for i in images.values()]
