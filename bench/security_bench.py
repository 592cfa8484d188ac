"""What security costs per call, over loopback with pyarrow.flight:
- handshake (PBKDF2-SHA256, 600k iterations, then an HS256 token),
- a small query (GetFlightInfo + DoGet of a 3-row SELECT) without authentication, as admin
  (token check only) and as read_only (token check + SQL classification).

    .venv/bin/python bench/security_bench.py [--quick]
"""
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow.flight as flight

from bench_server import BINARY, start_server

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
import flightsql_wire as wire  # noqa: E402

QUICK = "--quick" in sys.argv
N = 100 if QUICK else 1000
SQL = "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) v(x, y) WHERE x > 0"


def query_ms(client, options):
    descriptor = flight.FlightDescriptor.for_command(wire.statement_query(SQL))
    for _ in range(20):  # warm-up: connection, session, caches
        info = client.get_flight_info(descriptor, options)
        client.do_get(info.endpoints[0].ticket, options).read_all()
    times = []
    for _ in range(N):
        start = time.perf_counter()
        info = client.get_flight_info(descriptor, options)
        client.do_get(info.endpoints[0].ticket, options).read_all()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main():
    tmp = pathlib.Path(tempfile.mkdtemp())
    users = ""
    for name, role in (("root", "admin"), ("reader", "read_only")):
        digest = subprocess.run([str(BINARY), "--hash-password"], input="pw\n", text=True,
                                capture_output=True, check=True).stdout.strip()
        users += f'[[users]]\nname = "{name}"\npassword_hash = "{digest}"\nrole = "{role}"\n'
    (tmp / "users.toml").write_text(users)
    with open(tmp / "log", "ab") as log:
        plain, plain_uri = start_server(log)
        secure, secure_uri = start_server(log, "--config", str(tmp / "users.toml"))
        try:
            with flight.connect(plain_uri) as client:
                med, p99 = query_ms(client, flight.FlightCallOptions())
                print(f"query, no auth:            median {med:.3f} ms  p99 {p99:.3f} ms")
            with flight.connect(secure_uri) as client:
                handshakes = []
                for _ in range(3 if QUICK else 10):
                    start = time.perf_counter()
                    header = client.authenticate_basic_token("root", "pw")
                    handshakes.append((time.perf_counter() - start) * 1000)
                print(f"handshake (PBKDF2 600k):   median {statistics.median(handshakes):.1f} ms")
                for user in ("root", "reader"):
                    header = client.authenticate_basic_token(user, "pw")
                    med, p99 = query_ms(client, flight.FlightCallOptions(headers=[header]))
                    print(f"query, auth as {user:7s}:   median {med:.3f} ms  p99 {p99:.3f} ms")
        finally:
            for proc in (plain, secure):
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
