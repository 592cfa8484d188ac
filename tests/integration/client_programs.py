"""Builds and runs the third-party-client smoke programs under tests/clients/ (the Arrow
Flight SQL JDBC driver in Java, the arrow-go Flight SQL client in Go) for the test_client_*
wrappers.

Build outputs go to a cache directory under the user's home (one per checkout), next to
the toolchains' own caches (~/.m2, ~/go/pkg/mod, ~/.cache/go-build), so a rerun only
recompiles what changed; a file lock keeps two concurrent test runs of the same checkout
from building into the same directory at once. A clean machine fetches everything from
Maven Central / the Go module proxy on the first build.
"""
import contextlib
import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"


def home():
    return pathlib.Path(os.environ.get("HOME") or pathlib.Path.home())


def cache_dir(name):
    """~/.cache/hyprstream-clients/<checkout hash>/<name>: stable across runs of one checkout."""
    base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or home() / ".cache")
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    path = base / "hyprstream-clients" / checkout / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def tool_env():
    """The environment for the toolchains: HOME must be set for ~/.m2 and the Go caches."""
    env = dict(os.environ)
    env.setdefault("HOME", str(home()))
    return env


def require(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH: the third-party client cannot be built")


@contextlib.contextmanager
def locked(directory):
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(args, cwd, timeout, what):
    """Runs a command; fails the test with its output when it exits non-zero."""
    try:
        proc = subprocess.run(args, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"{what} did not finish in {timeout} s: {' '.join(map(str, args))}\n{out}")
    output = proc.stdout.decode(errors="replace")
    return proc.returncode, output


def server_log_tail(server, lines=80):
    return "\n".join(server.log().splitlines()[-lines:])


def assert_client_passed(code, output, server, what):
    if code != 0:
        failed = [line for line in output.splitlines() if line.startswith("FAIL ")]
        summary = "\n".join(failed) or "(no FAIL lines: the program itself failed)"
        pytest.fail(
            f"{what} exited with {code}.\n\n== failed checks\n{summary}\n\n"
            f"== client output\n{output}\n"
            f"== server log (last lines, --log-level debug)\n{server_log_tail(server)}",
            pytrace=False)
    print(output)
