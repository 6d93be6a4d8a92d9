"""The local stand-in for RDS/Redshift: a real PostgreSQL 16 started on demand from pip (pgserver)."""
from __future__ import annotations

import warnings
from pathlib import Path

#: pgserver stops a server when its last handle is garbage-collected: keep them for the process.
_SERVERS: dict[Path, object] = {}


def start_postgres(data_dir: Path, *, temporary: bool = False) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN.

    The server lives as long as this process (pgserver stops it at exit), so a run pays
    the start-up (about a second) once. A ``temporary`` server's data is deleted at exit.
    """
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        warnings.simplefilter("ignore")
        import pgserver  # only needed when a run loads into PostgreSQL

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir not in _SERVERS:
        _SERVERS[data_dir] = pgserver.get_server(data_dir, cleanup_mode="delete" if temporary else "stop")
    server = _SERVERS[data_dir]
    return server.get_uri()


def stop_postgres(data_dir: Path) -> None:
    """Stop a server now (and delete a temporary one's data) rather than at interpreter exit,
    where other exit handlers (pyspark's) can keep pgserver's own clean-up from running."""
    server = _SERVERS.pop(data_dir, None)
    if server is not None:
        server.cleanup()


def apply_sql(dsn: str, files: list[Path]) -> None:
    """Run SQL files (idempotent seeds of the local stand-in for an RDS source) in one transaction."""
    if not files:
        return
    import psycopg

    with psycopg.connect(dsn) as conn:
        for path in files:
            conn.execute(path.read_text())
