"""The README's examples and examples/quickstart.py run as written against a fresh server."""
import re
import subprocess
import sys

import adbc_driver_flightsql.dbapi
import pyarrow as pa

from conftest import ROOT


def readme_python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def readme_sql_statements():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    return [s.strip() for block in blocks for s in block.split(";") if s.strip()]


def test_quickstart_example_runs_as_written(start_server):
    server = start_server()
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), server.uri],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # The Arrow table and the pandas frame both show the two rows.
    assert "id: int32" in out.stdout
    assert re.search(r"0\s+1\s+a\n1\s+2\s+b", out.stdout), out.stdout
    # conn.commit() made the table durable for other connections.
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT id, name FROM t ORDER BY id")
            assert cur.fetchall() == [(1, "a"), (2, "b")]


def test_readme_blocks_run_in_order(start_server, capsys):
    """Every ```python block of the README, in order, in one namespace, like a reader would;
    then every ```sql statement, in order, over the data the Python blocks wrote."""
    server = start_server("--log-level", "debug")
    blocks = readme_python_blocks()
    assert len(blocks) >= 3, "README lost its examples"
    namespace = {}
    for block in blocks:
        exec(compile(block.replace("grpc://localhost:50051", server.uri), "README.md", "exec"),
             namespace)
    printed = capsys.readouterr().out
    assert "id: int32" in printed
    assert '{"rows":' in printed
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM host_stats")
            assert cur.fetchone()[0] == namespace["arrow_table"].num_rows
            cur.execute("SELECT count(*), max(value_running_window_count) FROM metrics")
            count, running = cur.fetchone()
    # 4096 rows one millisecond apart all fall in one 5-minute trailing window
    assert count == namespace["table"].num_rows == running == 4096
    assert isinstance(namespace["arrow_table"], pa.Table)

    statements = readme_sql_statements()
    assert len(statements) >= 5, "README lost its SQL examples"
    with adbc_driver_flightsql.dbapi.connect(server.uri, autocommit=True) as conn:
        with conn.cursor() as cur:
            results = []
            for sql in statements:
                cur.execute(sql)
                results.append(cur.fetchall() if cur.description else None)
    # The README query: one row per metric the Python blocks wrote, counts adding up.
    readme_query = results[[i for i, s in enumerate(statements) if "avg_value" in s][0]]
    assert sum(r[1] for r in readme_query) == 4096
    # The trailing-window query, answered from the definition's state.
    assert results[-1] == [("AAPL", 1, 231.5), ("MSFT", 1, 502.1)]
    assert "answered from the maintained windows of 'bars'" in server.log()
