"""The local stand-in for RDS/Redshift: a real PostgreSQL 16 started on demand from pip (pgserver).

pgserver stops its server from an ``atexit`` hook, which never runs when the process that
started it dies by a signal (a segfault in a native library, SIGKILL); the server then
outlives it, holding memory, a socket and its data folder. So each process that starts a
server also starts a small watchdog, in its own session, that waits for that process to
end however it ends and then does pgserver's clean-up for it.

A process killed while the server was first being initialised must never leave a data
folder that looks initialised and is not: pgserver skips ``initdb`` once ``PG_VERSION``
exists (initdb writes it before its bootstrap), and a server started over a half-written
cluster crash-loops (every backend fails on a missing catalog file such as
``global/pg_filenode.map``; clients get "the database system is in recovery mode" and
``pg_ctl stop`` waits in vain). So the folder is initialised under another name and renamed
into place only once initdb has finished: the data folder is complete or absent. A process
killed while the server was first starting leaves a ``postmaster.pid`` naming a dead (or
since reused) process id; that is recovered here before pgserver sees it.
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
from types import SimpleNamespace

#: pgserver stops a server when its last handle is garbage-collected: keep them for the process.
_SERVERS: dict[Path, object] = {}

#: How long a server that is starting may take to get ready (or its orphans to end).
_READY_SECONDS = 60

#: The sibling a data folder is initialised in before it is renamed into place.
_INITIALISING = ".initdb-"

#: Settings of the embedded server that differ from PostgreSQL's defaults, each kept only on a
#: measured gain (bench/profile_load.py, A/B at scale 1). All apply to the whole server, so to
#: every load and every bench contender alike; each reloads without a restart.
#: - max_wal_size: the default 1GB starts a checkpoint every ~540 MB of WAL, and a 6-million-row
#:   COPY writes more than that: the checkpoint ran during the load, writing its pages and making
#:   the rest of the COPY log full pages again. 4GB (RDS PostgreSQL 16 defaults to 2GB) leaves a
#:   scale-1 load without one: about 10% less server CPU. pg_wal may then hold up to ~4 GB.
SERVER_SETTINGS = {"max_wal_size": "4GB"}


class WarehouseStartError(RuntimeError):
    """The embedded PostgreSQL could not be started; the message names the folder and the cause."""


def _pgserver():
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        warnings.simplefilter("ignore")
        import pgserver  # only needed when a run loads into PostgreSQL
        import pgserver.postgres_server
    return pgserver


def _pid_file_owner(data_dir: Path, lock_file: Path | None = None) -> int | None:
    """The live postmaster serving ``data_dir`` according to its pid file (or a socket's lock
    file, which starts the same way), else None. A zombie is not live, though PostgreSQL's own
    check (``kill(pid, 0)``) takes it for a running server."""
    import psutil

    try:
        first = (lock_file or data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        process = psutil.Process(int(first))
        alive = process.name() == "postgres" and str(data_dir) in " ".join(process.cmdline())
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return process.pid if alive else None


def _recover_stale_pid_file(data_dir: Path) -> None:
    """Wait (bounded) for a live postmaster that is still starting, as pgserver expects it
    ready; once none lives, remove a ``postmaster.pid`` whose process is gone or is not this
    folder's postmaster, and end what that postmaster left running in the folder (children
    that outlived it hold its shared memory, and PostgreSQL refuses to start beside them).

    The owner is checked on every turn: a postmaster killed while starting may still be alive
    when first looked at (a SIGKILL takes effect when it leaves the kernel) and never gets ready.
    """
    pid_file = data_dir / "postmaster.pid"
    deadline = time.monotonic() + _READY_SECONDS
    while _pid_file_owner(data_dir) is not None:
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if (len(lines) >= 8 and lines[7].strip() == "ready") or time.monotonic() > deadline:
            return  # in use, or pgserver names what keeps it from getting ready
        time.sleep(0.1)
    _end(_postgres_processes_in(data_dir))
    lines = pid_file.read_text().splitlines() if pid_file.exists() else []
    sockets = Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else data_dir
    for lock in sockets.glob(".s.PGSQL.*.lock"):  # names the dead postmaster, perhaps not reaped yet
        if _pid_file_owner(data_dir, lock) is None:
            lock.unlink(missing_ok=True)
    if pid_file.exists():
        warnings.warn(f"removing a stale {pid_file} (its server is not running)", stacklevel=3)
        pid_file.unlink(missing_ok=True)


def _set_aside(data_dir: Path, cause: str) -> None:
    aside = data_dir.with_name(f"{data_dir.name}.incomplete-{uuid.uuid4().hex[:8]}")
    warnings.warn(f"{data_dir} was never completely initialised ({cause}); moved to {aside}, initialising afresh", stacklevel=4)
    data_dir.rename(aside)


def _postgres_processes_in(folder: Path) -> list:
    """Live PostgreSQL processes working in ``folder`` (named on their command line or their cwd)."""
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cmdline", "cwd"]):
        if process.info["name"] == "postgres" and (
                str(folder) in (process.info["cmdline"] or []) or process.info["cwd"] == str(folder)):
            found.append(process)
    return found


def _end(processes: list) -> None:
    """SIGKILL processes a dead server left behind and wait (bounded) until they are gone."""
    import psutil

    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=_READY_SECONDS)


def _initialise(data_dir: Path) -> None:
    """Give ``data_dir`` a complete cluster if it has none: initdb in a sibling, then rename.

    Runs under pgserver's inter-process lock, so no other process is initialising this folder:
    any sibling left from an earlier attempt belongs to a process killed in initdb and goes.
    """
    for leftover in data_dir.parent.glob(f"{data_dir.name}{_INITIALISING}*"):
        _end(_postgres_processes_in(leftover))  # an orphaned bootstrap backend
        shutil.rmtree(leftover, ignore_errors=True)
    if (data_dir / "PG_VERSION").exists():
        return
    if data_dir.exists():
        if any(data_dir.iterdir()):
            _set_aside(data_dir, "no PG_VERSION")
        else:
            data_dir.rmdir()
    staging = data_dir.with_name(f"{data_dir.name}{_INITIALISING}{os.getpid()}")
    staging.mkdir()
    system_user = None
    if os.geteuid() == 0:  # pgserver runs PostgreSQL as its own user when it is started by root
        from pgserver.utils import ensure_user_exists

        system_user = "pgserver"
        ensure_user_exists(system_user)
    # pgserver's own initialisation (permissions, ownership, initdb's arguments), pointed at the
    # sibling: its method reads only these three attributes of the server object.
    init = SimpleNamespace(pgdata=staging, system_user=system_user, postgres_user="postgres")
    _pgserver().postgres_server.PostgresServer.ensure_pgdata_inited(init)
    staging.rename(data_dir)
    directory = os.open(data_dir.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def start_postgres(data_dir: Path, *, temporary: bool = False) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN.

    The server lives as long as this process (pgserver stops it at exit, the watchdog if the
    process dies), so a run pays the start-up (about a second) once. A ``temporary`` server's
    data is deleted at exit.
    """
    pgserver = _pgserver()
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir not in _SERVERS:
        with pgserver.postgres_server.PostgresServer._lock:
            _initialise(data_dir)
            _recover_stale_pid_file(data_dir)
        # Before the start, not after: a process killed while its server starts leaves no
        # server running unwatched.
        _start_watchdog(data_dir, temporary)
        mode = "delete" if temporary else "stop"
        try:
            server = pgserver.get_server(data_dir, cleanup_mode=mode)
        except (subprocess.SubprocessError, AssertionError, OSError) as exc:
            pgserver.postgres_server.PostgresServer._instances.pop(data_dir, None)
            raise WarehouseStartError(f"the embedded PostgreSQL in {data_dir} did not start: {_log_tail(data_dir) or exc!r}") from exc
        _SERVERS[data_dir] = server
        _apply_settings(server.get_uri())
    return _SERVERS[data_dir].get_uri()


def _apply_settings(dsn: str) -> None:
    """``SERVER_SETTINGS`` by ALTER SYSTEM (kept in the data folder's postgresql.auto.conf) and a
    reload; a server that already has them is left alone."""
    import psycopg

    def differing(conn: psycopg.Connection) -> dict[str, str]:
        return {name: value for name, value in SERVER_SETTINGS.items()
                if conn.execute(f"SHOW {name}").fetchone()[0] != value}  # nosec B608 - names from the constant above

    with psycopg.connect(dsn, autocommit=True) as conn:
        missing = differing(conn)
        if not missing:
            return
        for name, value in missing.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # nosec B608 - the constant above
        conn.execute("SELECT pg_reload_conf()")
    # The postmaster reloads on its signal, asynchronously; a backend forked after that has the settings.
    deadline = time.monotonic() + _READY_SECONDS
    while True:
        with psycopg.connect(dsn, autocommit=True) as conn:
            if not differing(conn) or time.monotonic() > deadline:
                return
        time.sleep(0.05)


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


def apply_sql(dsn: str, files: list[Path]) -> None:
    """Run SQL files (idempotent seeds of the local stand-in for an RDS source) in one transaction."""
    if not files:
        return
    import psycopg

    with psycopg.connect(dsn) as conn:
        for path in files:
            conn.execute(path.read_text())


__all__ = ["start_postgres", "stop_postgres", "apply_sql", "watch", "WarehouseStartError"]
