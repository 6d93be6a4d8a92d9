"""The local stand-in for RDS/Redshift: a real PostgreSQL 16 started on demand from pip (pgserver)."""
from __future__ import annotations

import warnings
from pathlib import Path


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the server whose data lives in ``data_dir``; return its DSN."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless machines
        warnings.simplefilter("ignore")
        import pgserver  # only needed when a run loads into PostgreSQL

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir).get_uri()
