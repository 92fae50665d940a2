"""A real PostgreSQL server for tests: its own data directory and port on 127.0.0.1, stopped afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

from conftest import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} not found: install postgresql (Debian: postgresql-15)")
    return found[-1]


def _run(command: list[str], user: str | None) -> None:
    line = shlex.join(command)
    argv = ["su", user, "-s", "/bin/bash", "-c", line] if user else ["bash", "-c", line]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{line} failed:\n{done.stdout}\n{done.stderr}")


class PostgresInstance:
    """One server's data directory and port; `stop` and `start` keep both, as an operator's restart does."""

    def __init__(self, root: str, user: str | None):
        self.root, self.user = root, user
        self.data, self.port = os.path.join(root, "data"), free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        _run([_bin("pg_ctl"), "-D", self.data, *args], self.user)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._pg_ctl("-o", options, "-l", os.path.join(self.root, "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session (clients get AdminShutdown); `immediate` is a crash."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def running(self) -> bool:
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))


@contextmanager
def postgres_instance():
    """Yields a started `PostgresInstance` of a fresh server; trust authentication, user and database `postgres`."""
    user = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="llm-auction-pg-")
    if user:
        record = pwd.getpwnam(user)
        os.chown(root, record.pw_uid, record.pw_gid)
    server = PostgresInstance(root, user)
    _run([_bin("initdb"), "-D", server.data, "-A", "trust", "-U", "postgres", "--no-sync"], user)
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server():
    """Yields a postgresql:// URL of a fresh server; trust authentication, user and database `postgres`."""
    with postgres_instance() as server:
        yield server.url
