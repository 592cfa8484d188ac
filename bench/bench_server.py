"""Starts the hyprstream binary for a benchmark: a free loopback port, warn-level logs to
`log`, ready when it answers ListActions. HYPRSTREAM_BIN overrides build/hyprstream."""
import os
import pathlib
import socket
import subprocess
import sys
import time

import pyarrow.flight as flight

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = pathlib.Path(os.environ.get("HYPRSTREAM_BIN", ROOT / "build" / "hyprstream"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log, *args):
    """Returns (process, uri); exits the benchmark if the server does not come up in 30 s."""
    port = free_port()
    proc = subprocess.Popen([str(BINARY), "--port", str(port), "--log-level", "warn", *args],
                            stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with flight.connect(uri) as client:
                list(client.list_actions())
            return proc, uri
        except flight.FlightUnauthenticatedError:
            return proc, uri  # up, and asking for credentials
        except flight.FlightError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("hyprstream did not start")
