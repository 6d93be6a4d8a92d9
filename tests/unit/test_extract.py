"""Extract from files: every bad line or value is quarantined with its origin and reason, never dropped."""
from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_core.errors import SourceError, SourceNotFound
from etl_core.extract import ExtractContext, extract_source
from etl_core.extract.files import as_text
from etl_core.extract.records import text_value
from etl_core.layout import RunLayout
from etl_core.schema import cast_text_columns
from etl_core.settings import Settings
from etl_core.spec import parse_spec


def make_spec(fmt: str, columns: str = "{id: int64, amount: 'decimal(10,2)', seen: timestamp, tag: string}", options: str = "") -> object:
    return parse_spec(
        f"""
pipeline: demo
sources:
  - {{name: s, type: s3, uri: x, format: {fmt}, columns: {columns} {options}}}
transform: {{sql: demo.sql}}
targets: [{{name: t, type: lake_parquet, uri: y}}]
""",
        "demo.yaml",
    )


def run(tmp_path: Path, fmt: str, data: bytes, name: str | None = None, **kw) -> tuple[object, pa.Table, pa.Table]:
    source = tmp_path / (name or f"in.{fmt}")
    source.write_bytes(data)
    layout = RunLayout(str(tmp_path / "lake"), "demo", "r1")
    result = extract_source(make_spec(fmt, **kw), "s", ExtractContext(str(source), layout, Settings.from_env(), "2026-11-26"))
    staged = pq.read_table(result.staged_uri)
    rejects = pq.read_table(layout.quarantine("extract-s"))
    return result, staged, rejects


def test_csv_malformed_lines_and_bad_values_are_quarantined_with_line_numbers(tmp_path: Path) -> None:
    data = b"id,amount,seen,tag\n1,2.50,2026-11-26 10:00:00,a\n2,oops,2026-11-26 11:00:00,b\n3,1.00\n4,4.00,2026-11-26T12:00:00+01:00,d\n5,5.00,never,e\n"
    result, staged, rejects = run(tmp_path, "csv", data)
    assert (result.rows_read, result.rows_staged, result.rows_rejected) == (5, 2, 3)
    assert staged.column("id").to_pylist() == [1, 4]
    assert staged.column("_origin").to_pylist() == [f"{tmp_path}/in.csv:2", f"{tmp_path}/in.csv:5"]
    assert str(staged.column("seen")[1].as_py()) == "2026-11-26 11:00:00+00:00"  # converted to UTC
    reasons = dict(zip(rejects.column("_origin").to_pylist(), rejects.column("_reasons").to_pylist()))
    assert reasons[f"{tmp_path}/in.csv:3"] == "column amount: 'oops' is not a valid decimal(10,2)"
    assert reasons[f"{tmp_path}/in.csv:4"] == "malformed CSV line: expected 4 fields, found 2"
    assert reasons[f"{tmp_path}/in.csv:6"] == "column seen: 'never' is not a valid timestamp"
    raws = dict(zip(rejects.column("_origin").to_pylist(), rejects.column("_raw").to_pylist()))
    assert raws[f"{tmp_path}/in.csv:4"] == "3,1.00" and '"amount":"oops"' in raws[f"{tmp_path}/in.csv:3"]


def test_csv_gzip_and_semicolon_delimiter(tmp_path: Path) -> None:
    data = gzip.compress(b"id;amount;seen;tag\n1;2.50;2026-11-26 10:00:00;a\n")
    result, staged, _ = run(tmp_path, "csv", data, name="in.csv.gz", options=", csv: {delimiter: ';'}")
    assert result.rows_staged == 1 and staged.column("amount").to_pylist()[0] == pytest.approx(2.5)


def test_csv_missing_declared_column_names_the_object(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"in.csv.*tag"):
        run(tmp_path, "csv", b"id,amount,seen\n1,2.50,2026-11-26 10:00:00\n")


def test_csv_wrong_encoding_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"in.csv: cannot read as CSV \(encoding 'utf8'.*invalid UTF8"):
        run(tmp_path, "csv", "id,amount,seen,tag\n1,2.50,2026-11-26 10:00:00,caf\u00e9\n".encode("latin-1"))


def test_csv_latin1_declared_encoding_reads(tmp_path: Path) -> None:
    data = "id,amount,seen,tag\n1,2.50,2026-11-26 10:00:00,caf\u00e9\n".encode("latin-1")
    _, staged, _ = run(tmp_path, "csv", data, options=", csv: {encoding: latin-1}")
    assert staged.column("tag").to_pylist() == ["caf\u00e9"]


def test_jsonl_malformed_lines_and_non_objects_are_quarantined(tmp_path: Path) -> None:
    data = b'{"id": 1, "amount": 2.5, "seen": "2026-11-26 10:00:00", "tag": "a", "extra": true}\n{"id": 2,\n[1,2]\n\n{"id": "x"}\n'
    result, staged, rejects = run(tmp_path, "jsonl", data)
    assert (result.rows_read, result.rows_staged, result.rows_rejected) == (4, 1, 3)
    assert staged.column("id").to_pylist() == [1]
    reasons = rejects.column("_reasons").to_pylist()
    assert any(r.startswith("malformed JSON line") for r in reasons)
    assert "malformed JSON line: expected a JSON object, found list" in reasons
    assert "column id: 'x' is not a valid int64" in reasons
    assert f"{tmp_path}/in.jsonl:5" in rejects.column("_origin").to_pylist()


def test_parquet_source_and_schema_drift(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2], "amount": ["1.5", "bad"], "seen": ["2026-11-26 10:00:00"] * 2, "tag": ["a", None], "new": [0, 0]}), path)
    layout = RunLayout(str(tmp_path / "lake"), "demo", "r1")
    result = extract_source(make_spec("parquet"), "s", ExtractContext(str(path), layout, Settings.from_env(), "2026-11-26"))
    assert (result.rows_staged, result.rows_rejected) == (1, 1)
    pq.write_table(pa.table({"id": [1]}), path)
    with pytest.raises(SourceError, match=r"in.parquet: missing declared column\(s\) amount, seen, tag"):
        extract_source(make_spec("parquet"), "s", ExtractContext(str(path), layout, Settings.from_env(), "2026-11-26"))


def test_missing_object_and_empty_prefix(tmp_path: Path) -> None:
    layout = RunLayout(str(tmp_path / "lake"), "demo", "r1")
    with pytest.raises(SourceNotFound, match="no object or prefix at"):
        extract_source(make_spec("csv"), "s", ExtractContext(str(tmp_path / "absent.csv"), layout, Settings.from_env(), "2026-11-26"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no objects"):
        extract_source(make_spec("csv"), "s", ExtractContext(str(tmp_path / "empty"), layout, Settings.from_env(), "2026-11-26"))


def test_rerun_replaces_the_staged_object(tmp_path: Path) -> None:
    data = b"id,amount,seen,tag\n1,2.50,2026-11-26 10:00:00,a\n"
    run(tmp_path, "csv", data)
    _, staged, _ = run(tmp_path, "csv", data)
    assert staged.num_rows == 1


def test_csv_schema_is_inferred_when_not_declared_and_drift_is_quarantined(tmp_path: Path) -> None:
    # the drifting row lies beyond the 1 MiB sample the types are inferred from
    rows = ["id,amount,seen,ok,label"] + [f"{i},{i}.5,2026-11-26 10:00:00,true,x{i}" for i in range(40_000)]
    rows.append("oops,1.5,2026-11-26 10:00:00,false,y")
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    layout = RunLayout(str(tmp_path / "lake"), "demo", "r1")
    spec = parse_spec("""
pipeline: demo
sources: [{name: s, type: s3, uri: x, format: csv}]
transform: {sql: demo.sql}
targets: [{name: t, type: lake_parquet, uri: y}]
""", "demo.yaml")
    result = extract_source(spec, "s", ExtractContext(str(tmp_path / "in.csv"), layout, Settings.from_env(), "2026-11-26"))
    staged = pq.read_table(result.staged_uri)
    assert [(f.name, str(f.type)) for f in staged.schema][:5] == [
        ("id", "int64"), ("amount", "double"), ("seen", "timestamp[us, tz=UTC]"), ("ok", "bool"), ("label", "string")]
    assert (result.rows_staged, result.rows_rejected) == (40_000, 1)
    assert pq.read_table(layout.quarantine("extract-s")).column("_reasons").to_pylist() == ["column id: 'oops' is not a valid int64"]


def test_jsonl_and_parquet_schemas_are_inferred(tmp_path: Path) -> None:
    from etl_core.extract.inference import infer_columns

    (tmp_path / "in.jsonl").write_text('{"id": 1, "tags": ["a"], "who": {"n": 1}, "day": "x"}\nnot json\n')
    spec = make_spec("jsonl").source("s").model_copy(update={"columns": None})
    assert infer_columns(spec, str(tmp_path / "in.jsonl")) == {"id": "int64", "tags": "json", "who": "json", "day": "string"}
    pq.write_table(pa.table({"id": [1], "d": pa.array([None], pa.date32())}), tmp_path / "in.parquet")
    assert infer_columns(spec.model_copy(update={"format": "parquet"}), str(tmp_path / "in.parquet")) == {"id": "int64", "d": "date"}


@pytest.mark.parametrize("bad_at", [[0], [999], [0, 1, 2], [17, 500, 501, 998, 999], list(range(0, 1000, 3))])
def test_bad_values_among_many_are_found_each_with_its_row(bad_at: list[int]) -> None:
    """One cast for the batch; only the slices that fail are cast again, down to the bad values."""
    texts = [("x" if i in bad_at else str(i)) if i % 7 else None for i in range(1000)]
    typed, problems = cast_text_columns(pa.table({"n": pa.array(texts, pa.string())}), {"n": "int64"})
    wrong = [i for i in bad_at if texts[i] is not None]
    assert sorted(problems) == wrong
    assert all(problems[i] == ["column n: 'x' is not a valid int64"] for i in wrong)
    assert typed.column("n").to_pylist() == [None if t in (None, "x") else int(t) for t in texts]


@pytest.mark.parametrize("values", [
    pa.array([1, None, -7], pa.int64()), pa.array([3, None], pa.int8()), pa.array([True, None, False]),
    pa.array([dt.date(2026, 11, 26), None, dt.date(1, 1, 1)]), pa.array(["a", None, ""]),
    pa.array([Decimal("1.50"), None, Decimal("-2.00"), Decimal("0.00")], pa.decimal128(10, 2)),
    pa.array([Decimal("12345678901234567890.123"), None], pa.decimal128(38, 3)),
    pa.array([1.0, None, 0.1, 1e20]), pa.array([dt.datetime(2026, 11, 26, 10, 0), None], pa.timestamp("us", tz="UTC")),
])
def test_parquet_values_become_the_same_text_with_or_without_python(values: pa.Array) -> None:
    assert as_text(values).to_pylist() == [text_value(v) for v in values.to_pylist()]
