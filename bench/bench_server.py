"""Starts the servers the benchmarks talk to, each on a free loopback port, and stops them:
hyprstream (HYPRSTREAM_BIN overrides build/hyprstream), the arrow-go Flight SQL example
server, and a throw-away PostgreSQL 15 cluster in a temp dir. A Flight server is ready when
it answers ListActions / a Flight SQL handshake; PostgreSQL when pg_ctl -w says so."""
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pyarrow.flight as flight

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = pathlib.Path(os.environ.get("HYPRSTREAM_BIN", ROOT / "build" / "hyprstream"))
PG_BIN = pathlib.Path("/usr/lib/postgresql/15/bin")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_flight(proc, uri, what, timeout=30):
    """Waits until the Flight server at `uri` answers; kills it and raises if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with flight.connect(uri) as client:
                list(client.list_actions(options=flight.FlightCallOptions(timeout=1)))
            return
        except flight.FlightError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not start in {timeout} s")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_hyprstream(log, *args, binary=None):
    """Returns (process, uri) of a hyprstream with warn-level logs to `log`."""
    port = free_port()
    proc = subprocess.Popen([str(binary or BINARY), "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warn", *args], stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "hyprstream")
    return proc, uri


def start_server(log, *args):
    """hyprstream for the single-system benchmarks: exits the benchmark if it does not start."""
    try:
        return start_hyprstream(log, *args)
    except RuntimeError as e:
        sys.exit(str(e))


def start_arrow_go(binary, log):
    """Returns (process, uri) of the arrow-go SQLite Flight SQL example server."""
    port = free_port()
    proc = subprocess.Popen([str(binary), "-host", "127.0.0.1", "-port", str(port)],
                            stdout=log, stderr=log)
    uri = f"grpc://127.0.0.1:{port}"
    wait_for_flight(proc, uri, "the arrow-go Flight SQL example server")
    return proc, uri


class Postgres:
    """A PostgreSQL 15 cluster in a temp dir on a free loopback port, trust auth, durability
    off (fsync, synchronous_commit, full_page_writes), like an in-memory hyprstream. Run as
    the postgres user when we are root (initdb refuses root)."""

    def __init__(self):
        self.port = free_port()
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="hyprstream-bench-pg-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"  # in the cluster dir: postgres writes it
        self.uri = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd):
        prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run(prefix + [str(c) for c in cmd], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        try:
            if os.getuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
            self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync")
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.log_path,
                      "-w", "start")
        except (OSError, subprocess.CalledProcessError):
            shutil.rmtree(self.dir, ignore_errors=True)  # nothing is left running
            raise
        return self

    def stop(self):
        try:
            self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
