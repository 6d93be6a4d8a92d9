"""Exact origins: ``_origin`` names the physical line on which a row starts, however the file
is laid out (blank lines, CRLF, quoted fields spanning lines, a byte-order mark, gzip), for
staged rows and for rows quarantined at Extract alike. Real files, the real Extract."""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from etl_core.extract import ExtractContext, csv_lines, extract_source, files
from etl_core.layout import RunLayout
from etl_core.settings import Settings
from etl_core.spec import parse_spec

CSV_COLUMNS = "{id: int64, note: string}"
JSONL_COLUMNS = "{id: int64, note: string}"


def extract(tmp_path: Path, fmt: str, name: str, data: bytes, options: str = "", columns: str = CSV_COLUMNS) -> dict[int | None, str]:
    """Each row's line (the number after the last ':' of its origin), staged and quarantined, by id."""
    spec = parse_spec(
        f"pipeline: demo\nsources:\n  - {{name: s, type: s3, uri: x, format: {fmt}, columns: {columns}{options}}}\n"
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
    "line-break-in-an-undeclared-column": (b'id,other,note\n1,"x\ny",a\n\n2,z,b\n', {1: "2", 2: "5"}),
    # A record of empty values is an all-null row, as pyarrow reads a blank line: only the bytes tell them apart.
    "empty-record-among-blank-lines": (b"id,note\n1,a\n\n,\n\n2,b\n\n\n", {1: "2", None: "4", 2: "6"}),
    "empty-record-after-a-value-spanning-lines": (b'id,note\n1,"x\ny"\n\n"",\r\n\r\n2,b\n\n', {1: "2", None: "5", 2: "7"}),
    "blank-lines-before-the-header": (b"\n\r\nid,note\n1,a\n\n2,b\n", {1: "4", 2: "6"}),
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


def _random_csv(seed: int) -> tuple[bytes, dict]:
    """A CSV whose every record's first physical line is known as it is written: blank lines,
    LF, CRLF and lone-CR line ends, quoted fields with commas, quotes and line breaks (from the
    middle of the file on, so a reader must switch to following quotes mid-way), and malformed records."""
    rng = random.Random(seed)
    ends = [b"\n", b"\r\n", b"\r"][: rng.choice([1, 2, 3])]
    spanning_from = rng.randrange(0, 400)
    out, line, expected = [b"\xef\xbb\xbf" if rng.random() < 0.3 else b"", b"id,note"], 1, {}

    def end() -> None:
        nonlocal line
        after_cr = out[-1].endswith(b"\r")  # a LF there would make a CRLF: one line end, not two
        out.append(rng.choice([e for e in ends if not (after_cr and e.startswith(b"\n"))] or [b"\r"]))
        line += 1

    end()
    for number in range(rng.randrange(50, 400)):
        while rng.random() < 0.15:
            end()  # a blank line
        first = line
        kind = rng.random()
        if kind < 0.05:
            out.append(f"{number},x,extra".encode())  # malformed: one field too many
            expected[f"rejected:{number},x,extra"] = str(first)
        else:
            if 0.05 <= kind < 0.08 and None not in expected:
                note = b""  # a record of empty values (an all-null row, as a blank line is to pyarrow)
                number = None
            elif number >= spanning_from and kind < 0.3:
                parts = [b'"a ""q"", b']
                for _ in range(rng.randrange(1, 3)):
                    parts.append(rng.choice(ends) * rng.randrange(1, 3))
                    parts.append(b"more")
                note = b"".join(parts) + b'"'
                line += sum(p.count(b"\n") + p.count(b"\r") - p.count(b"\r\n") for p in parts)
            elif kind < 0.5:
                note = b'"with, comma"'
            else:
                note = b"plain"
            out.append(f"{'' if number is None else number},".encode() + note)
            expected[number] = str(first)
        end()
    if rng.random() < 0.5:
        out.pop()  # no line break after the last record
    return b"".join(out), expected


@pytest.mark.parametrize("seed", range(25))
def test_origins_hold_across_batches_and_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Tiny parse and scan blocks, so records, CRLFs and quoted line breaks straddle them, and the
    reader meets the first line break inside a value after many batches."""
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", random.Random(seed).choice([64, 200, 1000]))
    monkeypatch.setattr(csv_lines, "BLOCK_BYTES", random.Random(seed).choice([2, 7, 64, 4096]))
    data, expected = _random_csv(seed)
    assert extract(tmp_path, "csv", "in.csv", data) == expected


def test_origins_in_an_encoding_whose_line_breaks_are_not_single_bytes(tmp_path: Path) -> None:
    data = 'id,note\r\n1,a\r\n\r\n2,"x\r\ny"\r\n3,c\r\n'.encode("utf-16")
    assert extract(tmp_path, "csv", "in.csv", data, options=", csv: {encoding: utf-16}") == {1: "2", 2: "4", 3: "6"}


def test_blank_lines_of_a_one_column_file_are_not_rows(tmp_path: Path) -> None:
    """With one column, a blank line and an empty value read alike (one null): the bytes decide."""
    data = b'id\n1\n\n""\n2\n\n'
    assert extract(tmp_path, "csv", "in.csv", data, columns="{id: int64}") == {1: "2", None: "4", 2: "5"}
