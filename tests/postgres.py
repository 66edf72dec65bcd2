"""A throwaway PostgreSQL server for tests: initdb in a tmp dir, postgres on a free loopback port.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to the
``postgres`` system user that Debian's package creates and every program is started as that user
(``subprocess``'s ``user=``/``group=``: like ``runuser -u postgres --`` without a process in
between, so a signal reaches postgres itself). As any other user it runs as that user. Each
test gets a database of its own (:meth:`PostgresServer.create_database`), dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from ocop_cli.broker import free_port

# Debian keeps the server programs out of PATH, one folder per major version.
BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "postgres"
START_TIMEOUT_S = 30.0


def bin_path() -> str:
    """Folders to look for initdb/postgres in, newest major version first (for shutil.which)."""
    dirs = sorted(glob.glob(BIN_GLOB), key=lambda d: int(Path(d).parent.name), reverse=True)
    return os.pathsep.join(dirs)


class PostgresError(RuntimeError):
    pass


class PostgresServer:
    """One cluster under a fresh tmp dir; :meth:`start` then :meth:`stop`."""

    def __init__(self, initdb: str, postgres: str) -> None:
        self.initdb = initdb
        self.postgres = postgres
        self.root = Path(tempfile.mkdtemp(prefix="ocop-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: dict[str, object] = {}
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError("running as root and there is no postgres user") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def start(self) -> None:
        subprocess.run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
            **self._user,  # type: ignore[call-overload]
        )
        for _ in range(3):  # a free port can be taken between the check and the bind
            self.port = free_port()
            log = self.log.open("ab")
            self.proc = subprocess.Popen(
                [
                    self.postgres,
                    "-D",
                    str(self.data),
                    "-k",
                    str(self.root),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # A test cluster: durability is not what is being tested.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                **self._user,  # type: ignore[call-overload]
            )
            log.close()
            if self._wait_ready():
                return
            self._kill()
        raise PostgresError(f"postgres did not start; see {self.log}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL of one database (the kit's ``database_url``)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        # FORCE ends sessions a test left open (a leaked connection must not fail the next test).
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def _kill(self) -> None:
        if self.proc is None:
            return
        # SIGINT is postgres's "fast" shutdown; SIGTERM ("smart") would wait for every client.
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)
