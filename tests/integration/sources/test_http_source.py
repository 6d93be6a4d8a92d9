"""HTTP API source against a real HTTP server on 127.0.0.1 (nothing emulated but Secrets Manager, by moto server).

Each pagination style, nested records flattened to dotted columns, retries of 429 (with
Retry-After) and 5xx, a rate limit, auth headers, and bad input: malformed JSON names the
URL and page, non-object or incomplete records are quarantined with their origin.
"""
from __future__ import annotations

import base64
import json
import time
from decimal import Decimal

import boto3
import pytest

from etl_core.errors import SourceError, SourceNotFound, TransientError
from etl_core.extract.http_api import next_link, retry_delay

PEOPLE = [
    {"id": i, "name": f"p{i}", "customer": {"address": {"city": f"c{i}"}}, "score": f"{i}.5"} for i in range(1, 6)
]
COLUMNS = "{id: int64, name: string, customer.address.city: string, score: 'decimal(10,2)'}"


def source(url: str, extra: str = "") -> str:
    return f"""
    name: people
    type: http
    url: "{url}"
    columns: {COLUMNS}
    {extra}
    """


def window(start: int, size: int) -> list[dict]:
    return PEOPLE[start : start + size]


@pytest.mark.parametrize(
    "style, route, extra",
    [
        ("page", lambda q: {"items": window((int(q["page"]) - 1) * 2, int(q["per_page"]))},
         "records_path: items\n    pagination: {style: page, size: 2, size_param: per_page}"),
        ("offset", lambda q: window(int(q["offset"]), int(q["limit"])),
         "pagination: {style: offset, size: 2, size_param: limit}"),
        ("cursor", lambda q: {"data": {"rows": window(int(q.get("after", 0)), 2)},
                              "meta": {"next": str(int(q.get("after", 0)) + 2) if int(q.get("after", 0)) + 2 < 5 else None}},
         "records_path: data.rows\n    pagination: {style: cursor, param: after, cursor_path: meta.next}"),
    ],
)
def test_each_pagination_style_reads_every_record_once(api, lake, style: str, route, extra: str) -> None:
    api.json_route("/people", route)
    extracted = lake.extract(lake.spec(source(api.url("/people"), extra)))
    assert [r["id"] for r in extracted.rows()] == [1, 2, 3, 4, 5]
    assert extracted.rows()[0] == {"id": 1, "name": "p1", "customer.address.city": "c1", "score": Decimal("1.50")}
    assert extracted.result.rows_rejected == 0
    assert len(api.hits("/people")) == 3


def test_link_header_pagination_follows_rel_next(api, lake) -> None:
    def link(query: dict) -> dict:
        page = int(query.get("p", 1))
        return {"Link": f'</people?p={page + 1}>; rel="next", </people?p=3>; rel="last"'} if page < 3 else {}

    api.json_route("/people", lambda q: window((int(q.get("p", 1)) - 1) * 2, 2), headers=link)
    extracted = lake.extract(lake.spec(source(api.url("/people"), "pagination: {style: link}")))
    assert [r["id"] for r in extracted.rows()] == [1, 2, 3, 4, 5]
    assert extracted.staged.column("_origin").to_pylist()[2] == api.url("/people?p=2#record=1")


def test_bad_records_are_quarantined_with_page_and_position(api, lake) -> None:
    records = [PEOPLE[0], [1, 2], "text", {"id": 9, "name": "no city", "score": "1"}, {"id": "x", "name": None, "customer": {"address": {"city": "c"}}, "score": "1"}]
    api.json_route("/people", lambda q: records)
    extracted = lake.extract(lake.spec(source(api.url("/people"), "optional: [name]")))
    assert [r["id"] for r in extracted.rows()] == [1]
    url = api.url("/people")
    assert extracted.reasons() == {
        f"{url}#record=2": "expected a JSON object, found array",
        f"{url}#record=3": "expected a JSON object, found string",
        f"{url}#record=4": "missing declared field(s): customer.address.city",
        f"{url}#record=5": "column id: 'x' is not a valid int64",
    }
    assert extracted.result.rows_read == 5


def test_an_empty_api_is_zero_rows_and_optional_fields_are_null(api, lake) -> None:
    api.json_route("/empty", lambda q: {"items": []})
    assert lake.extract(lake.spec(source(api.url("/empty"), "records_path: items"))).result.rows_read == 0
    api.json_route("/sparse", lambda q: [{"id": 1, "score": 2}])
    sparse = lake.extract(lake.spec(source(api.url("/sparse"), "optional: [name, customer.address.city]")))
    assert sparse.rows() == [{"id": 1, "name": None, "customer.address.city": None, "score": Decimal("2.00")}]


def test_malformed_json_names_the_url_and_the_page(api, lake) -> None:
    api.json_route("/people", lambda q: window(0, 2))
    api.routes["/people"] = lambda q, h: (200, {}, json.dumps(window(0, 2)).encode() if q["page"] == "1" else b'[{"id": 3,')
    spec = lake.spec(source(api.url("/people"), "pagination: {style: page, size: 2, size_param: n}"))
    with pytest.raises(SourceError, match=r"page 2 \(http://127.0.0.1:\d+/people\?n=2&page=2\) is not valid JSON"):
        lake.extract(spec)
    api.json_route("/object", lambda q: {"data": {"rows": 1}})
    with pytest.raises(SourceError, match=r"page 1 .* has no records array at 'data.rows', found number"):
        lake.extract(lake.spec(source(api.url("/object"), "records_path: data.rows")))


def test_429_with_retry_after_and_5xx_are_retried_then_succeed(api, lake) -> None:
    answers = iter([(429, {"Retry-After": "0"}, b"slow down"), (503, {}, b"busy"), (200, {}, json.dumps(PEOPLE).encode())])
    api.routes["/people"] = lambda q, h: next(answers)
    extracted = lake.extract(lake.spec(source(api.url("/people"), "retry: {attempts: 3, max_delay_seconds: 0.05}")))
    assert extracted.result.rows_staged == 5 and len(api.hits("/people")) == 3


def test_persistent_5xx_is_a_transient_error_after_the_bounded_attempts(api, lake) -> None:
    api.routes["/people"] = lambda q, h: (500, {"Retry-After": "0"}, b"down")
    with pytest.raises(TransientError, match=r"GET http://127.0.0.1:\d+/people: HTTP 500 Internal Server Error after 3 attempt"):
        lake.extract(lake.spec(source(api.url("/people"), "retry: {attempts: 3, max_delay_seconds: 0}")))
    assert len(api.hits("/people")) == 3


def test_client_errors_are_permanent_and_not_retried(api, lake) -> None:
    with pytest.raises(SourceNotFound, match="HTTP 404"):
        lake.extract(lake.spec(source(api.url("/nowhere"))))
    assert len(api.hits("/nowhere")) == 1


def test_bearer_token_from_the_environment(api, lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEOPLE_TOKEN", "s3cret")
    api.routes["/people"] = lambda q, h: (
        (200, {}, json.dumps(PEOPLE).encode()) if h.get("Authorization") == "Bearer s3cret" else (401, {}, b"who are you")
    )
    spec = lake.spec(source(api.url("/people"), "auth: {type: bearer, env: PEOPLE_TOKEN}"))
    assert lake.extract(spec).result.rows_staged == 5
    monkeypatch.setenv("PEOPLE_TOKEN", "wrong")
    with pytest.raises(SourceError, match="HTTP 401"):
        lake.extract(spec)


def test_basic_credentials_from_a_secrets_manager_secret(api, lake, aws) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="api/people", SecretString=json.dumps({"username": "etl", "password": "pa:ss"})
    )["ARN"]
    expected = "Basic " + base64.b64encode(b"etl:pa:ss").decode()
    api.routes["/people"] = lambda q, h: (200, {}, json.dumps(PEOPLE).encode()) if h.get("Authorization") == expected else (403, {}, b"no")
    extracted = lake.extract(lake.spec(source(api.url("/people"), f"auth: {{type: basic, secret_arn: '{arn}'}}")))
    assert extracted.result.rows_staged == 5


def test_the_rate_limit_spaces_requests(api, lake) -> None:
    stamps: list[float] = []

    def paged(query: dict, headers: dict) -> tuple[int, dict, bytes]:
        stamps.append(time.monotonic())
        return 200, {}, json.dumps(window((int(query["page"]) - 1) * 2, 2)).encode()

    api.routes["/people"] = paged
    started = time.monotonic()
    lake.extract(lake.spec(source(api.url("/people"), "requests_per_second: 20\n    pagination: {style: page, size: 2, size_param: n}")))
    # The third request cannot start before two intervals have passed since the first could. (A bound
    # on the gaps the server sees would break on a loaded machine: a late first arrival shrinks them.)
    assert len(stamps) == 3 and stamps[-1] - started >= 2 * 0.05


def test_a_looping_cursor_and_the_run_date_in_the_url(api, lake) -> None:
    api.json_route("/day/2026-11-26", lambda q: {"rows": PEOPLE[:1], "next": "same"})
    spec = lake.spec(source(api.url("/day/{run_date}"), "records_path: rows\n    pagination: {style: cursor, cursor_path: next}"))
    with pytest.raises(SourceError, match=r"page 3 would request .*/day/2026-11-26\?cursor=same again"):
        lake.extract(spec)


def test_retry_after_dates_and_link_headers_parse() -> None:
    assert retry_delay("120", 0, 30) == 30 and retry_delay("0", 3, 30) == 0
    assert retry_delay("Wed, 21 Oct 2015 07:28:00 GMT", 0, 30) == 0  # a date in the past: go now
    assert 0 <= retry_delay(None, 2, 30) <= 2.0 and 0 <= retry_delay("soon", 0, 30) <= 0.5
    header = '<https://x/a?page=3>; rel="last", <?page=2>; rel="next prefetch"'
    assert next_link(header, "https://x/a?page=1") == "https://x/a?page=2"
    assert next_link('<https://x/a?page=1>; rel="prev"', "https://x/a") is None


def test_a_nested_object_declared_json_is_kept_as_exact_json_text(api, lake) -> None:
    api.routes["/people"] = lambda q, h: (200, {}, b'[{"id": 1, "customer": {"address": {"city": "c1"}, "credit": 10.50}}]')
    spec = lake.spec(source(api.url("/people")).replace(COLUMNS, "{id: int64, customer: json}"))
    assert lake.extract(spec).rows() == [{"id": 1, "customer": '{"address":{"city":"c1"},"credit":10.50}'}]
