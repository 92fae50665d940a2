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


@contextmanager
def postgres_server():
    """Yields a postgresql:// URL of a fresh server; trust authentication, user and database `postgres`."""
    user = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="llm-auction-pg-")
    if user:
        record = pwd.getpwnam(user)
        os.chown(root, record.pw_uid, record.pw_gid)
    data, port = os.path.join(root, "data"), free_port()
    _run([_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], user)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on"
    _run([_bin("pg_ctl"), "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"], user)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([_bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(root, ignore_errors=True)
