"""Fixtures shared by the end-to-end tests that change the raw data a run reads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw_copy(tmp_path: Path) -> Path:
    """A private copy of the sample's raw data: a test may add, correct or drop a day's file in it
    (the sample itself is never edited)."""
    raw = tmp_path / "raw"
    shutil.copytree(REPO / "sample" / "raw", raw)
    return raw


@pytest.fixture
def env_file(tmp_path: Path, raw_copy: Path) -> Path:
    """`etl run`'s environment (local.env.json) with RAW_URI pointing at ``raw_copy``."""
    env = json.loads((REPO / "local.env.json").read_text())
    env["Parameters"]["RAW_URI"] = str(raw_copy)
    path = tmp_path / "env.json"
    path.write_text(json.dumps(env))
    return path
