"""Settings are read from the environment in one place (etl_core.settings), the project's rule.

A setting read anywhere else could not be found, documented or tested in one place; this test
reads the deployed code (src/) as text and names any other module that reaches for the
environment.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from etl_core.settings import Settings, named_variable

SRC = Path(__file__).resolve().parents[2] / "src"


def _environment_reads(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & {"environ", "getenv"}:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {f"{path.relative_to(SRC)}:{line}" for path in SRC.rglob("*.py") if path.name != "settings.py"
               for line in _environment_reads(path)}
    assert not readers, f"read the environment through etl_core.settings instead: {sorted(readers)}"


def test_named_variables_and_s3_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_DSN", "postgresql://u@h/db")
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    assert named_variable("ORDERS_DSN") == "postgresql://u@h/db"
    assert named_variable("NOT_SET_HERE") == "" and named_variable(None) == ""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    settings = Settings.from_env()
    assert (settings.s3_endpoint, settings.aws_region) == ("http://127.0.0.1:5000", "eu-west-1")


@pytest.mark.parametrize(("function_memory", "explicit", "expected"), [
    ("2048", None, 256),      # an eighth of the function's memory
    ("10240", None, 1280),
    ("512", None, 128),       # never below 128 MB: DuckDB's aggregates fail instead of spilling far below it
    (None, None, 256),        # outside Lambda
    ("2048", "64", 64),       # SPILL_MEMORY_MB wins
])
def test_key_sets_memory_follows_the_functions_memory(monkeypatch: pytest.MonkeyPatch, function_memory: str | None,
                                                      explicit: str | None, expected: int) -> None:
    for name, value in (("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function_memory), ("SPILL_MEMORY_MB", explicit)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("SPILL_DIR", "/tmp/spill-here")
    settings = Settings.from_env()
    assert (settings.spill_memory_mb, settings.spill_dir) == (expected, "/tmp/spill-here")
