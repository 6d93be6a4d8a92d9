"""The local stand-in for RDS/Redshift: a real PostgreSQL 16 started on demand from pip (pgserver).

pgserver stops its server from an ``atexit`` hook, which never runs when the process that
started it dies by a signal (a segfault in a native library, SIGKILL); the server then
outlives it, holding memory, a socket and its data folder. So each process that starts a
server also starts a small watchdog, in its own session, that waits for that process to
end however it ends and then does pgserver's clean-up for it.

A process killed while the server was first being initialised or started leaves a
``postmaster.pid`` naming a dead (or since reused) process id, or a data folder that was
never completely initialised; both are recovered here before pgserver sees them.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

#: pgserver stops a server when its last handle is garbage-collected: keep them for the process.
_SERVERS: dict[Path, object] = {}

#: Written beside the data folder once its server has started: a folder without it that does
#: not start was never completely initialised (the process initialising it was killed).
_STARTED_MARKER = ".started"


class WarehouseStartError(RuntimeError):
    """The embedded PostgreSQL could not be started; the message names the folder and the cause."""


def _pgserver():
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        warnings.simplefilter("ignore")
        import pgserver  # only needed when a run loads into PostgreSQL
        import pgserver.postgres_server
    return pgserver


def _pid_file_owner(data_dir: Path) -> int | None:
    """The live postmaster serving ``data_dir`` according to its pid file, else None."""
    import psutil

    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        process = psutil.Process(int(first))
        alive = process.name() == "postgres" and str(data_dir) in " ".join(process.cmdline())
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return process.pid if alive else None


def _recover_stale_pid_file(data_dir: Path) -> None:
    """Remove a ``postmaster.pid`` whose process is gone or is not this folder's postmaster;
    wait (bounded) for a live one that is still starting, as pgserver expects it ready."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    if _pid_file_owner(data_dir) is None:
        warnings.warn(f"removing a stale {pid_file} (its server is not running)", stacklevel=3)
        pid_file.unlink(missing_ok=True)
        return
    for _ in range(100):
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return
        time.sleep(0.1)


def _set_aside(data_dir: Path, cause: str) -> None:
    aside = data_dir.with_name(f"{data_dir.name}.incomplete-{uuid.uuid4().hex[:8]}")
    warnings.warn(f"{data_dir} was never completely initialised ({cause}); moved to {aside}, initialising afresh", stacklevel=3)
    data_dir.rename(aside)


def start_postgres(data_dir: Path, *, temporary: bool = False) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN.

    The server lives as long as this process (pgserver stops it at exit, the watchdog if the
    process dies), so a run pays the start-up (about a second) once. A ``temporary`` server's
    data is deleted at exit.
    """
    pgserver = _pgserver()
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    marker = data_dir.with_name(data_dir.name + _STARTED_MARKER)
    if data_dir not in _SERVERS:
        _recover_stale_pid_file(data_dir)
        mode = "delete" if temporary else "stop"
        try:
            server = pgserver.get_server(data_dir, cleanup_mode=mode)
        except (subprocess.SubprocessError, AssertionError, OSError) as exc:
            pgserver.postgres_server.PostgresServer._instances.pop(data_dir, None)
            never_started = (data_dir / "PG_VERSION").exists() and not marker.exists()
            if not never_started:
                raise WarehouseStartError(f"the embedded PostgreSQL in {data_dir} did not start: {_log_tail(data_dir) or exc!r}") from exc
            _set_aside(data_dir, type(exc).__name__)
            server = pgserver.get_server(data_dir, cleanup_mode=mode)
        _SERVERS[data_dir] = server
        marker.touch()
        _start_watchdog(data_dir, temporary)
    return _SERVERS[data_dir].get_uri()


def _log_tail(data_dir: Path) -> str:
    log = data_dir / "log"
    return log.read_text(errors="replace")[-500:].strip() if log.exists() else ""


def stop_postgres(data_dir: Path) -> None:
    """Stop a server now (and delete a temporary one's data) rather than at interpreter exit,
    where other exit handlers (pyspark's) can keep pgserver's own clean-up from running."""
    server = _SERVERS.pop(data_dir.expanduser().resolve(), None)
    if server is not None:
        server.cleanup()


def _start_watchdog(data_dir: Path, temporary: bool) -> None:
    """A child in its own session (a signal to this process group does not reach it) that
    outlives this process and cleans up after it; see ``watch``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.Popen(
        [sys.executable, "-c", "import sys; from etl_local.warehouse import watch; watch(*sys.argv[1:])",
         str(os.getpid()), str(data_dir), "delete" if temporary else "stop"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env,
    )


def _wait_for_exit(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux: readable when the process ends, no polling
    except (AttributeError, OSError):
        import psutil

        try:
            psutil.Process(pid).wait()
        except psutil.NoSuchProcess:
            pass
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def watch(parent: str, data_dir: str, mode: str) -> None:
    """Wait for ``parent`` to end, then do what pgserver's exit hook does if the parent could
    not: drop its handle and, when no live process holds one, stop the server (and delete a
    temporary one's data). After a clean exit the hook has already done it: nothing is left."""
    pid, folder = int(parent), Path(data_dir)
    _wait_for_exit(pid)
    pgserver = _pgserver()
    import psutil
    from pgserver.utils import DiskList

    with pgserver.postgres_server.PostgresServer._lock:
        handles = DiskList(folder / ".handle_pids.json")
        remaining = [p for p in (handles.get() if handles.path.exists() else []) if p != pid and psutil.pid_exists(p)]
        if remaining:
            handles.put(remaining)
            return
        postmaster = _pid_file_owner(folder)
        if postmaster is not None:
            user = "pgserver" if os.geteuid() == 0 else None
            try:
                pgserver._commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=user, timeout=30)
            except (subprocess.SubprocessError, OSError):
                psutil.Process(postmaster).kill()
        if handles.path.exists():
            handles.put([])
        if mode == "delete":
            shutil.rmtree(folder, ignore_errors=True)
            folder.with_name(folder.name + _STARTED_MARKER).unlink(missing_ok=True)


def apply_sql(dsn: str, files: list[Path]) -> None:
    """Run SQL files (idempotent seeds of the local stand-in for an RDS source) in one transaction."""
    if not files:
        return
    import psycopg

    with psycopg.connect(dsn) as conn:
        for path in files:
            conn.execute(path.read_text())


__all__ = ["start_postgres", "stop_postgres", "apply_sql", "watch", "WarehouseStartError"]
