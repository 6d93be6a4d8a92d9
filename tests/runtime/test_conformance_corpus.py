"""The AWS ground-truth corpus must pass in full: the repo's copy, and the shared original when present."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from etl_local.conformance import main, run_corpus

REPO = Path(__file__).resolve().parents[2]
CORPORA = [REPO / "tests" / "conformance" / "asl_cases.json", REPO.parent / "shared" / "conformance" / "asl_cases.json"]


@pytest.mark.parametrize("corpus", CORPORA, ids=["repo-copy", "shared"])
def test_corpus_passes(corpus: Path) -> None:
    if not corpus.exists():
        pytest.skip(f"{corpus} is not present in this checkout")
    out = io.StringIO()
    passed, failed = run_corpus(corpus, out)
    report = out.getvalue()
    assert failed == 0, report
    assert passed == 75
    assert report.splitlines()[-1] == f"{passed} passed, 0 failed"


def test_runner_reports_mismatches_and_exit_code(tmp_path: Path) -> None:
    corpus = tmp_path / "cases.json"
    corpus.write_text("""{"cases": [
      {"id": "ok", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
       "input": {"a": 1}, "expected": {"status": "SUCCEEDED", "output": {"a": 1.0}}},
      {"id": "wrong", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
       "input": {"a": 1}, "expected": {"status": "SUCCEEDED", "output": {"a": true},
                                        "history_types": ["ExecutionStarted"]}}],
      "definition_validation_cases": [
      {"id": "bad", "definition": {"StartAt": "Nowhere", "States": {"P": {"Type": "Pass", "End": true}}},
       "expected": {"status": "INVALID_DEFINITION", "error_contains": ["Nowhere"]}}]}""")
    out = io.StringIO()
    assert run_corpus(corpus, out) == (2, 1)
    text = out.getvalue()
    assert "FAIL wrong" in text and "output: expected" in text and "history_types" in text
    assert text.splitlines()[-1] == "2 passed, 1 failed"
    assert main([str(corpus)]) == 1
