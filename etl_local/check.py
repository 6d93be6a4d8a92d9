"""`etl check PIPELINE`: the checks Plan runs on a spec, without running the pipeline.

The spec is parsed and validated, its SQL described over empty tables shaped as the sources
will be staged, and every column the spec names checked against that shape
(``etl_core.spec_check``); nothing is read from the sources and nothing is written.
"""
from __future__ import annotations

from pathlib import Path

from etl_core import storage
from etl_core.errors import SpecError
from etl_core.spec import load_spec, load_sql, spec_uri
from etl_core.spec_check import check_spec


def check_pipeline(pipeline: str, pipelines: Path) -> tuple[bool, str]:
    """(passed, what to print): the transform's columns, or every problem found."""
    uri = str(pipelines)
    try:
        spec = load_spec(uri, pipeline)
        output = check_spec(spec, load_sql(uri, spec), spec_uri(uri, pipeline), storage.join(uri, spec.transform.sql))
    except SpecError as exc:
        return False, str(exc)
    if output is None:
        later = [s.name for s in spec.sources if s.columns is None] or [s.name for s in spec.sources if "json" in (s.columns or {}).values()]
        return True, (f"{pipeline}: the spec is valid; the columns of {', '.join(later)} are known only once staged, so the "
                      "transform's columns are checked by each run before Transform writes anything")
    columns = "\n".join(f"  {field.name:<24} {field.type}" for field in output)
    return True, f"{pipeline}: OK, every column the spec names exists with a usable type. The transform gives:\n{columns}"
