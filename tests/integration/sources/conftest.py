"""Fixtures for the source connectors: a lake per test, one moto server per session, a local HTTP API.

Only AWS APIs are emulated (moto in server mode, reached over real HTTP through boto3's
``AWS_ENDPOINT_URL``); PostgreSQL is the real one from tests/conftest.py and the HTTP API
is a real ``http.server`` on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import json
import textwrap
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_core import storage
from etl_core.extract import ExtractContext, ExtractResult, extract_source, source_uri
from etl_core.layout import RunLayout
from etl_core.settings import Settings
from etl_core.source_state import commit_run_state
from etl_core.spec import PipelineSpec, parse_spec


@dataclass
class Extracted:
    result: ExtractResult
    staged: pa.Table
    rejects: pa.Table

    def rows(self) -> list[dict]:
        return self.staged.drop_columns(["_origin"]).to_pylist()

    def reasons(self) -> dict[str, str]:
        return dict(zip(self.rejects.column("_origin").to_pylist(), self.rejects.column("_reasons").to_pylist()))


@dataclass
class Lake:
    """A lake folder and the runs of one pipeline in it, as Extract and Finalize see them."""

    root: Path

    @staticmethod
    def spec(source_yaml: str) -> PipelineSpec:
        """A pipeline whose only source is ``source_yaml`` (a YAML mapping)."""
        item = textwrap.indent(textwrap.dedent(source_yaml).strip(), "    ")
        return parse_spec(
            f"pipeline: demo\nsources:\n  - {item.lstrip()}\ntransform: {{sql: demo.sql}}\n"
            "targets: [{name: t, type: lake_parquet, uri: y}]\n",
            "demo.yaml",
        )

    def layout(self, run_id: str, pipeline: str = "demo") -> RunLayout:
        return RunLayout(str(self.root), pipeline, run_id)

    def context(self, spec: PipelineSpec, run_id: str, run_date: str = "2026-11-26") -> ExtractContext:
        source = spec.sources[0]
        uri = source_uri(source, raw_uri="", lake_uri=str(self.root), run_date=run_date)
        return ExtractContext(uri=uri, layout=self.layout(run_id, spec.pipeline), settings=Settings.from_env(), run_date=run_date)

    def extract(self, spec: PipelineSpec, run_id: str = "r1", **kwargs) -> Extracted:
        ctx = self.context(spec, run_id, **kwargs)
        result = extract_source(spec, spec.sources[0].name, ctx)
        rejects_uri = ctx.layout.quarantine(f"extract-{spec.sources[0].name}")
        return Extracted(result, pq.read_table(result.staged_uri), pq.read_table(rejects_uri))

    def commit(self, run_id: str, pipeline: str = "demo") -> dict:
        return commit_run_state(self.layout(run_id, pipeline))

    def staged_state(self, run_id: str, source: str, pipeline: str = "demo") -> dict:
        return storage.read_json(str(self.root / "staging" / pipeline / run_id / "sources" / source / "_state.json"))


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    monkeypatch.setenv("LAKE_URI", str(tmp_path / "lake"))
    return Lake(tmp_path / "lake")




# --- a real HTTP API on 127.0.0.1 ----------------------------------------------------------

#: A route answers (query parameters, request headers) with (status, headers, body).
Route = Callable[[dict[str, str], dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass
class Api:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def json_route(self, path: str, pages: Callable[[dict[str, str]], object], headers: Callable[[dict[str, str]], dict] | None = None) -> None:
        """Serve ``pages(query)`` as JSON at ``path`` (with ``headers(query)`` if given)."""
        self.routes[path] = lambda query, _: (200, (headers or (lambda q: {}))(query), json.dumps(pages(query)).encode())

    def hits(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path]


@contextlib.contextmanager
def serve_api() -> Iterator[Api]:
    """A real HTTP server on 127.0.0.1 answering the routes put into the Api it yields."""
    state = Api(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            state.requests.append((parts.path, {**query, **{f"header:{k.lower()}": v for k, v in self.headers.items()}}))
            route = state.routes.get(parts.path)
            status, headers, body = route(query, dict(self.headers)) if route else (404, {}, b"no such route")
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def api() -> Iterator[Api]:
    with serve_api() as state:
        yield state


@pytest.fixture
def other_api() -> Iterator[Api]:
    """A second server: another origin, for tests of where requests and credentials may go."""
    with serve_api() as state:
        yield state
