"""Local execution state survives one bad write: real files, real processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl_local.store import ExecutionBusy, ExecutionStore, StoreError


def description(name: str, start: str = "2026-11-26T10:00:00+00:00") -> dict:
    return {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:etl:{name}", "name": name, "startDate": start,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:etl", "input": "{}"}


def test_a_record_is_replaced_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = ExecutionStore(tmp_path)
    store.save({**description("a"), "status": "SUCCEEDED"}, [{"id": 1}])
    store.save({**description("a"), "status": "FAILED"}, [{"id": 1}, {"id": 2}])
    assert store.load("a")["execution"]["status"] == "FAILED"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_corrupt_record_is_named_and_skipped_and_the_others_listed(tmp_path: Path) -> None:
    store = ExecutionStore(tmp_path)
    store.save({**description("good"), "status": "SUCCEEDED"}, [])
    (tmp_path / "torn.json").write_text('{"execution": {"name": "torn", "sta')
    (tmp_path / "odd.json").write_text("[1, 2]")
    assert [e["name"] for e in store.list()] == ["good"]
    assert len(store.skipped) == 2
    assert any(f"{tmp_path / 'torn.json'}: not a readable execution record" in s for s in store.skipped)
    assert any(f"{tmp_path / 'odd.json'}: not an execution record" in s for s in store.skipped)
    with pytest.raises(StoreError, match="torn.json: not a readable execution record"):
        store.load("torn")


def test_a_torn_last_journal_line_is_ignored_with_a_warning_and_cut_before_a_redrive_appends(tmp_path: Path) -> None:
    store = ExecutionStore(tmp_path)
    with store.begin(description("k")) as journal:
        journal.write(json.dumps({"id": 1, "type": "ExecutionStarted"}) + "\n")
        journal.write(json.dumps({"id": 2, "type": "TaskStateEntered"}) + "\n")
    with open(tmp_path / "k.events.jsonl", "a") as journal:
        journal.write('{"id": 3, "type": "TaskSch')  # the process died mid-write
    with pytest.warns(UserWarning, match="ignoring its last line, torn"):
        events = store.load("k")["events"]
    assert [e["id"] for e in events] == [1, 2]
    with store.begin(description("k")) as journal:  # a redrive appends to the journal
        journal.write(json.dumps({"id": 3, "type": "ExecutionRedriven"}) + "\n")
    assert [e["id"] for e in store.load("k")["events"]] == [1, 2, 3]


def test_a_torn_line_in_the_middle_is_an_error_naming_the_journal_and_line(tmp_path: Path) -> None:
    store = ExecutionStore(tmp_path)
    store.begin(description("m")).close()
    (tmp_path / "m.events.jsonl").write_text('{"id": 1}\n{"id": 2\n{"id": 3}\n')
    with pytest.raises(StoreError, match=r"m\.events\.jsonl: line 2 is not a JSON event"):
        store.load("m")


def test_an_execution_whose_process_is_alive_is_not_run_twice(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from etl_local.store import ExecutionStore;"
         "ExecutionStore(Path(sys.argv[1])).begin(eval(sys.argv[2])); print('begun', flush=True); time.sleep(600)",
         str(tmp_path), repr(description("busy"))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "begun"
        with pytest.raises(ExecutionBusy, match=f"still running in process {holder.pid}"):
            ExecutionStore(tmp_path).begin(description("busy"))
    finally:
        holder.kill()
        holder.wait()
    ExecutionStore(tmp_path).begin(description("busy")).close()  # its process is gone: a redrive may take it over


def test_temporary_files_of_dead_writers_are_removed_by_the_next_begin(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    leftover = tmp_path / f".x.json.{dead}.0badc0de.tmp"
    leftover.write_text("{")
    mine = tmp_path / f".y.json.{os.getpid()}.0badc0de.tmp"
    mine.write_text("{")
    ExecutionStore(tmp_path).begin(description("n")).close()
    assert not leftover.exists() and mine.exists()


def test_a_full_or_read_only_folder_names_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ExecutionStore(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'f.json'}: No space left on device"):
        store.save({**description("f"), "status": "SUCCEEDED"}, [])
    assert list(tmp_path.iterdir()) == []
