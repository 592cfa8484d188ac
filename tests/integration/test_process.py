"""The process: data on disk survives a restart, flags/env/config precedence, --help, bad
options, clean shutdown."""
import subprocess

import adbc_driver_flightsql.dbapi

from conftest import BINARY


def run(uri, sql):
    with adbc_driver_flightsql.dbapi.connect(uri, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        try:
            return cur.fetchall()
        except Exception:
            return None


def test_file_database_survives_a_restart(start_server, tmp_path):
    path = tmp_path / "data.duckdb"
    first = start_server("--engine", "duckdb", "--engine-connection", str(path))
    run(first.uri, "CREATE TABLE kept (x INTEGER)")
    run(first.uri, "INSERT INTO kept SELECT * FROM range(1000)")
    assert first.stop() == 0
    second = start_server("--engine", "duckdb", "--engine-connection", str(path))
    assert run(second.uri, "SELECT count(*), sum(x) FROM kept") == [(1000, 499500)]


def test_environment_and_config_file_configure_the_server(start_server, tmp_path):
    path = tmp_path / "env.duckdb"
    config = tmp_path / "hyprstream.toml"
    config.write_text('engine_connection = "/nonexistent/dir/never.duckdb"\n'
                      'log_level = "debug"\n')
    # env beats the file
    server = start_server("--config", str(config),
                          env={"HYPRSTREAM_ENGINE_CONNECTION": str(path)})
    run(server.uri, "CREATE TABLE from_env AS SELECT 1 AS one")
    assert path.exists()
    assert "debug" in server.log()


def test_engine_options_reach_duckdb(start_server):
    server = start_server("--engine-options", "threads=3", "--engine-options",
                          "memory_limit=1GB")
    assert run(server.uri, "SELECT current_setting('threads')") == [(3,)]


def test_help_lists_every_option():
    out = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ("--host", "--port", "--engine", "--engine-connection", "--engine-options",
                 "--config", "--log-level", "--enable-cache", "--cache-engine",
                 "--cache-connection"):
        assert flag in out.stdout


def test_bad_option_is_a_clear_error_with_exit_code_2():
    out = subprocess.run([str(BINARY), "--port", "99999"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2
    assert "--port" in out.stderr


def test_unknown_engine_fails_at_start(tmp_path):
    out = subprocess.run([str(BINARY), "--engine", "oracle"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode != 0
    assert "engine" in out.stderr


def test_sigterm_with_open_clients_exits_cleanly(start_server):
    server = start_server()
    conn = adbc_driver_flightsql.dbapi.connect(server.uri)
    conn.cursor().execute("CREATE TABLE x AS SELECT 1 AS a")
    assert server.stop() == 0
    assert "shutting down" in server.log()


def test_result_batch_rows_sets_the_streamed_batch_size(start_server):
    import pyarrow.flight as flight

    import flightsql_wire as wire
    sizes = {}
    for target in (4096, 131072):
        server = start_server("--result-batch-rows", str(target))
        with flight.connect(server.uri) as client:
            info = client.get_flight_info(flight.FlightDescriptor.for_command(
                wire.statement_query("SELECT range AS x FROM range(1000000)")))
            sizes[target] = [c.data.num_rows for c in client.do_get(info.endpoints[0].ticket)]
    for target, batches in sizes.items():
        assert sum(batches) == 1_000_000
        # DuckDB hands over 2048-row chunks: batches reach the target within one chunk
        assert all(n < target + 2048 for n in batches)
        assert all(n >= target for n in batches[:-1])
