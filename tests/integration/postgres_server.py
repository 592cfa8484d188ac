"""A real PostgreSQL 15 server for integration tests, in its own temp dir on a free loopback port.

    pg = PostgresServer().start()
    pg.uri          # postgresql://postgres:secret@127.0.0.1:<port>/metrics
    pg.stop(); pg.start()   # the backend goes away and comes back on the SAME port

TCP uses password (scram-sha-256) auth for superuser `postgres` / `secret`; the unix socket
lives inside the temp dir. When run as root, initdb/pg_ctl/postgres run as the `postgres`
OS user (PostgreSQL refuses root) via runuser, and the temp dir is chowned to that user.
"""
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile

PG_BIN = pathlib.Path(os.environ.get("HYPRSTREAM_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"
PASSWORD = "secret"
DATABASE = "metrics"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, port=None):
        # Its own dir under the system temp dir: pytest's tmp dirs are 0700 root-owned, which
        # the postgres OS user could not enter.
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="hyprstream-pg-"))
        self.data = self.dir / "data"
        self.socket_dir = self.dir / "sock"
        self.log_path = self.dir / "postgres.log"
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self._initialised = False

    # --- connection details -------------------------------------------------------------
    @property
    def uri(self):
        """URI with credentials (what a direct client such as adbc_driver_postgresql uses)."""
        return f"postgresql://{USER}:{PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    @property
    def uri_without_credentials(self):
        return f"postgresql://{self.host}:{self.port}/{DATABASE}"

    # --- process control -------------------------------------------------------------------
    def _as_pg_user(self, args, **kwargs):
        if os.getuid() == 0:
            args = ["runuser", "-u", USER, "--", *args]
        return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)

    def _init(self):
        if os.getuid() == 0:
            pw = pwd.getpwnam(USER)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if os.getuid() == 0:
            for p in (self.dir, self.socket_dir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._as_pg_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER,
                          f"--pwfile={pwfile}", "--auth-host=scram-sha-256",
                          "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '{self.host}'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.socket_dir}'\n"
                       "max_connections = 100\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\n")
        self._initialised = True

    def start(self, timeout=60):
        if not self._initialised:
            self._init()
        self._as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                          str(self.log_path), "-w", "-t", str(timeout), "start"])
        if not getattr(self, "_db_created", False):
            self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
            self._db_created = True
        return self

    def stop(self, mode="fast"):
        """Stops the server (fast: disconnects clients at once). Data stays for start()."""
        if self._initialised and (self.data / "postmaster.pid").exists():
            self._as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode,
                              "-w", "stop"])

    def destroy(self):
        self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------
    def psql(self, sql, database=DATABASE):
        """Runs SQL over the unix socket; returns stdout (unaligned, tuples only)."""
        return self._as_pg_user([str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-p",
                                 str(self.port), "-U", USER, "-d", database, "-X", "-A",
                                 "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).stdout

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
