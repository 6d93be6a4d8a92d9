"""Exact origins: ``_origin`` names the physical line on which a row starts, however the file
is laid out (blank lines, CRLF, quoted fields spanning lines, a byte-order mark, gzip), for
staged rows and for rows quarantined at Extract alike. Real files, the real Extract."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from etl_core.extract import ExtractContext, extract_source
from etl_core.layout import RunLayout
from etl_core.settings import Settings
from etl_core.spec import parse_spec

CSV_COLUMNS = "{id: int64, note: string}"
JSONL_COLUMNS = "{id: int64, note: string}"


def extract(tmp_path: Path, fmt: str, name: str, data: bytes) -> dict[int | None, str]:
    """Each row's line (the number after the last ':' of its origin), staged and quarantined, by id."""
    spec = parse_spec(
        f"pipeline: demo\nsources:\n  - {{name: s, type: s3, uri: x, format: {fmt}, columns: {CSV_COLUMNS}}}\n"
        "transform: {sql: demo.sql}\ntargets: [{name: t, type: lake_parquet, uri: y}]\n",
        "demo.yaml",
    )
    path = tmp_path / name
    path.write_bytes(data)
    layout = RunLayout(str(tmp_path / "lake"), "demo", "r1")
    result = extract_source(spec, "s", ExtractContext(str(path), layout, Settings.from_env(), "2026-11-26"))
    lines: dict = {}
    for row in pq.read_table(result.staged_uri).to_pylist():
        assert row["_origin"].startswith(f"{path}:")
        lines[row["id"]] = row["_origin"].rsplit(":", 1)[1]
    quarantined = Path(layout.quarantine("extract-s"))
    if quarantined.exists():
        for row in pq.read_table(quarantined).to_pylist():
            try:
                key = json.loads(row["_raw"])["id"]  # a row with a bad value: its text values as JSON
            except (ValueError, TypeError, KeyError):
                key = row["_raw"]  # a malformed line: its text
            lines[f"rejected:{key}"] = row["_origin"].rsplit(":", 1)[1]
    return lines


CSV_CASES = {
    "blank-lines": (b"id,note\n1,a\n\n2,b\n\n\n3,c\n", {1: "2", 2: "4", 3: "7"}),
    "crlf": (b"id,note\r\n1,a\r\n\r\n2,b\r\n3,c\r\n", {1: "2", 2: "4", 3: "5"}),
    "quoted-field-spanning-lines": (b'id,note\n1,"one\ntwo"\n2,"x\r\n\r\ny"\n3,c\n', {1: "2", 2: "4", 3: "7"}),
    "byte-order-mark": ("\ufeffid,note\n1,a\n\n2,b\n".encode(), {1: "2", 2: "4"}),
    "malformed-and-blank": (b'id,note\n1,a\nbroken\n\n2,"p\nq"\n3,c,extra\n4,d\n',
                            {1: "2", "rejected:broken": "3", 2: "5", "rejected:3,c,extra": "7", 4: "8"}),
}


def test_the_done_when_file_blank_lines_and_a_quoted_multiline_field(tmp_path: Path) -> None:
    """Issue 8's check: quarantine origins equal the physical line numbers."""
    data = (b"id,note\n1,ok\n\n2,\"a note\nover two lines\"\n\nx,bad id\n3,fine\n\n\"4\",\"and\nthree\nlines\"\nfive,bad\n")
    lines = extract(tmp_path, "csv", "in.csv", data)
    physical = {n + 1: text for n, text in enumerate(data.decode().split("\n"))}
    assert physical[7].startswith("x,") and physical[10].startswith('"4"') and physical[13].startswith("five,")
    assert lines == {1: "2", 2: "4", "rejected:x": "7", 3: "8", 4: "10", "rejected:five": "13"}


def jsonl(*records: object) -> list[bytes]:
    return [json.dumps(r).encode() if not isinstance(r, bytes) else r for r in records]


JSONL_CASES = {
    "blank-lines": (b"\n".join(jsonl({"id": 1}, b"", {"id": 2}, b"", b"", {"id": 3})) + b"\n", {1: "1", 2: "3", 3: "6"}),
    "crlf": (b"\r\n".join(jsonl({"id": 1}, b"", {"id": 2})) + b"\r\n", {1: "1", 2: "3"}),
    "byte-order-mark": ("\ufeff".encode() + b"\n".join(jsonl({"id": 1}, {"id": 2})), {1: "1", 2: "2"}),
}


CASES = {"csv": CSV_CASES, "jsonl": JSONL_CASES}
GZIPPED = [("csv", "quoted-field-spanning-lines"), ("jsonl", "blank-lines")]


@pytest.mark.parametrize(("fmt", "case", "gzipped"), [(f, c, False) for f in CASES for c in sorted(CASES[f])] + [(f, c, True) for f, c in GZIPPED])
def test_origin_is_the_rows_first_physical_line(tmp_path: Path, fmt: str, case: str, gzipped: bool) -> None:
    """gzip: the lines are those of the decompressed text."""
    data, expected = CASES[fmt][case]
    name = f"in.{fmt}.gz" if gzipped else f"in.{fmt}"
    assert extract(tmp_path, fmt, name, gzip.compress(data) if gzipped else data) == expected
