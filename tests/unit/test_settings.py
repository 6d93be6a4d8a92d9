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
