"""The embedded PostgreSQL never outlives the process that started it, and a process killed
while first initialising or starting it leaves nothing the next start (or a redrive of the
killed run) cannot recover from. Real servers (pgserver), real processes killed with SIGKILL,
the real template and handlers; nothing is emulated."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Iterator

import psutil
import psycopg
import pyarrow.parquet as pq
import pytest

from etl_local.runtime import LocalRuntime
from etl_local.warehouse import SERVER_SETTINGS, start_postgres, stop_postgres

REPO = Path(__file__).resolve().parents[2]

STARTER = """
import sys, time
from pathlib import Path
from etl_local.warehouse import start_postgres
dsn = start_postgres(Path(sys.argv[1]), temporary=sys.argv[2] == "temporary")
print(dsn, flush=True)
time.sleep(600)
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    """Outside pytest's private tmp tree, as the server may run as another user (see tests/conftest.py)."""
    path = Path(tempfile.mkdtemp(prefix="etl-test-pg-kill-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def postmaster(data: Path) -> psutil.Process | None:
    try:
        return psutil.Process(int((data / "postmaster.pid").read_text().split("\n", 1)[0]))
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return None


def wait_until(condition, what: str, bound: float = 60.0) -> None:
    """Poll a condition with a generous bound (the bound only turns a hang into a failure)."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def start_in_child(data: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", STARTER, str(data), mode], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_a_server_dies_with_the_process_that_started_it_even_by_sigkill(folder: Path) -> None:
    data = folder / "data"
    child = start_in_child(data, "temporary")
    dsn = child.stdout.readline().strip()
    server = postmaster(data)
    assert server is not None and server.is_running()
    psycopg.connect(dsn).close()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    wait_until(lambda: not server.is_running(), "the orphaned server to stop")
    wait_until(lambda: not data.exists(), "the temporary server's data to be deleted")


def test_a_stale_pid_file_left_by_a_killed_start_is_recovered(folder: Path) -> None:
    data = folder / "data"
    child = start_in_child(data, "keep")
    child.stdout.readline()
    server = postmaster(data)
    os.killpg(child.pid, signal.SIGKILL)  # the process and the server both die: the pid file stays
    server.kill()
    child.wait()
    wait_until(lambda: not server.is_running(), "the killed server to be gone")
    assert (data / "postmaster.pid").exists()
    with pytest.warns(UserWarning, match="stale"):
        dsn = start_postgres(data)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        stop_postgres(data)


def test_a_pid_file_naming_another_live_process_is_stale(folder: Path) -> None:
    data = folder / "data"
    start_postgres(data)
    stop_postgres(data)
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n0\n5432\n\n\n0 0\nready\n")  # this pytest process
    with pytest.warns(UserWarning, match="stale"):
        dsn = start_postgres(data)
    try:
        psycopg.connect(dsn).close()
    finally:
        stop_postgres(data)


def test_the_server_runs_with_the_projects_settings(folder: Path) -> None:
    """SERVER_SETTINGS are in effect once start_postgres returns, and still after a restart."""
    data = folder / "data"
    for _ in range(2):
        dsn = start_postgres(data)
        try:
            with psycopg.connect(dsn) as conn:
                assert {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SERVER_SETTINGS} == SERVER_SETTINGS
        finally:
            stop_postgres(data)


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process it started (its watchdog too, when there is one): the
    harshest end, where nothing of the starter runs afterwards. A process forked after the list
    was taken survives, as it would a real kill of a process group it had left."""
    for process in psutil.Process(pid).children(recursive=True) + [psutil.Process(pid)]:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def no_server_left(data: Path) -> None:
    """No PostgreSQL process works in ``data`` or its initialisation sibling any more."""
    def servers() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline", "status"]):
            command = " ".join(process.info["cmdline"] or [])
            if process.info["name"] == "postgres" and process.info["status"] != psutil.STATUS_ZOMBIE and str(data) in command:
                found.append(process)
        return found
    wait_until(lambda: not servers(), f"every server of {data} to stop")


#: The moments of a first initialisation, as the files in the data folder show them: initdb has
#: begun (its sibling folder has PG_VERSION), initdb's bootstrap backend runs (the sibling has
#: a pid file), the first server start has begun (the data folder has a pid file).
#: (Or the moment has passed, so that a slow poll makes a later kill, never a hang.)
MOMENTS = {
    "initdb": lambda data: any(data.parent.glob(f"{data.name}.initdb-*/PG_VERSION")) or data.exists(),
    "initdb-bootstrap": lambda data: any(data.parent.glob(f"{data.name}.initdb-*/postmaster.pid")) or data.exists(),
    "first-start": lambda data: (data / "postmaster.pid").exists(),
}


def kill_at(process: subprocess.Popen, data: Path, moment: str) -> None:
    deadline = time.monotonic() + 120
    while not MOMENTS[moment](data):
        assert process.poll() is None, f"the process ended before {moment}"
        assert time.monotonic() < deadline, f"still waiting for {moment}"
        time.sleep(0.01)
    kill_tree(process.pid)
    process.wait()


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_during_the_first_initialisation_then_a_start_succeeds(folder: Path, moment: str) -> None:
    """Whatever the moment of the kill, the next start serves queries, and nothing of the
    killed attempt is left: no half-initialised folder, no server."""
    data = folder / "data"
    kill_at(start_in_child(data, "keep"), data, moment)
    with warnings.catch_warnings():  # a stale pid file, depending on the moment
        warnings.simplefilter("ignore")
        dsn = start_postgres(data)
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'postgres'").fetchone() == (1,)
    finally:
        stop_postgres(data)
    assert list(folder.iterdir()) == [data]  # the killed attempt's sibling folder is gone
    no_server_left(data)


@pytest.mark.parametrize("moment", ["initdb", "first-start"])
def test_an_etl_run_killed_while_its_warehouse_first_starts_is_redriven_to_exact_targets(folder: Path, moment: str) -> None:
    """`etl run` on a new home starts its embedded PostgreSQL when Extract first needs it; the
    run's process tree is killed at that moment, and a redrive of the execution finishes with
    exactly the run's rows in the lake and the warehouse."""
    home = folder / "home"
    run = subprocess.Popen([sys.executable, "-m", "etl_local.cli", "--home", str(home), "--virtual-clock",
                            "run", "--name", "killed", "--quiet"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    kill_at(run, home / "pg", moment)
    runtime = LocalRuntime(REPO, home=home, virtual_clock=True)
    try:
        with warnings.catch_warnings():  # a stale pid file, depending on the moment
            warnings.simplefilter("ignore")
            result = runtime.redrive("killed")
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        valid = result.output["counts"]["valid"]
        groups = pq.read_table(home / "lake" / "aggregated" / "orders_daily_revenue").num_rows
        assert result.output["counts"]["loaded"] == {"processed": valid, "daily_revenue": groups, "warehouse": valid}
        assert pq.read_table(home / "lake" / "processed" / "orders").num_rows == valid
        with psycopg.connect(runtime.warehouse()) as conn:
            assert conn.execute("SELECT count(*), count(DISTINCT order_id) FROM analytics.orders").fetchone() == (valid, valid)
    finally:
        runtime.close()
        stop_postgres(home / "pg")
    assert sorted(p.name for p in home.iterdir() if p.name.startswith("pg")) == ["pg"]
    no_server_left(home / "pg")
