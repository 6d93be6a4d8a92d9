"""The local stand-in for RDS/Redshift: a real PostgreSQL 16 started on demand from pip (pgserver)."""
from __future__ import annotations

import warnings
from pathlib import Path


#: pgserver stops a server when its last handle is garbage-collected: keep them for the process.
_SERVERS: dict[Path, object] = {}


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN.

    The server lives as long as this process (pgserver stops it at exit), so a run pays
    the start-up (about a second) once.
    """
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        warnings.simplefilter("ignore")
        import pgserver  # only needed when a run loads into PostgreSQL

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _SERVERS.setdefault(data_dir, pgserver.get_server(data_dir))
    return server.get_uri()
