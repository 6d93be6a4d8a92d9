"""The HTTP source cannot be steered by the API it reads (issue 9): no file:// pages, no pages or
credentials on other origins, redirects elsewhere without credentials, bounded responses.

Real parts: two HTTP servers on 127.0.0.1 (two origins), a real file the API tries to have read.
Secrets Manager is emulated by moto (the ``aws`` fixture), as AWS cannot run here.
"""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from etl_core import redaction
from etl_core.errors import SourceError, SpecError

TOKEN = "tok-Zq7SecretBearer"
PEOPLE = [{"id": i, "name": f"p{i}"} for i in range(1, 6)]


def source(url: str, extra: str = "") -> str:
    return f"""
    name: people
    type: http
    url: "{url}"
    columns: {{id: int64, name: string}}
    {extra}
    """


def link_to(target: str):
    """A route answering the first page with a Link header naming ``target`` as the next page."""
    return lambda q, h: (200, {"Link": f'<{target}>; rel="next"'}, json.dumps(PEOPLE[:2]).encode())


def bearer(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PEOPLE_TOKEN", TOKEN)
    return "auth: {type: bearer, env: PEOPLE_TOKEN}\n    pagination: {style: link}"


def test_a_file_next_link_is_refused_and_the_file_never_read(api, lake, tmp_path: Path, monkeypatch) -> None:
    private = tmp_path / "private.json"
    private.write_text(json.dumps([{"id": 99, "name": "leaked"}]))
    api.routes["/people"] = link_to(private.as_uri())
    with pytest.raises(SourceError, match=r"page 1's next link 'file://.*' is not http\(s\)"):
        lake.extract(lake.spec(source(api.url("/people"), bearer(monkeypatch))))


def test_a_next_link_to_another_origin_is_refused_and_that_server_sees_nothing(api, other_api, lake, monkeypatch) -> None:
    other_api.json_route("/steal", lambda q: PEOPLE[2:])
    api.routes["/people"] = link_to(other_api.url("/steal"))
    with pytest.raises(SourceError, match="leaves the allowed origins"):
        lake.extract(lake.spec(source(api.url("/people"), bearer(monkeypatch))))
    assert other_api.requests == []
    assert [q["header:authorization"] for q in api.hits("/people")] == [f"Bearer {TOKEN}"]  # the token went where it belongs


def test_a_listed_origin_is_followed(api, other_api, lake, monkeypatch) -> None:
    other_api.json_route("/more", lambda q: PEOPLE[2:])
    api.routes["/people"] = link_to(other_api.url("/more"))
    extra = bearer(monkeypatch) + f"\n    allowed_origins: ['{other_api.base}']"
    assert lake.extract(lake.spec(source(api.url("/people"), extra))).result.rows_staged == 5


def test_a_redirect_to_another_origin_is_followed_without_the_credentials(api, other_api, lake, monkeypatch) -> None:
    other_api.json_route("/people", lambda q: PEOPLE)
    api.routes["/people"] = lambda q, h: (302, {"Location": other_api.url("/people")}, b"")
    extra = bearer(monkeypatch) + "\n    headers: {X-Api-Key: key-Zq7SecretHeader}"
    assert lake.extract(lake.spec(source(api.url("/people"), extra))).result.rows_staged == 5
    [seen] = other_api.hits("/people")
    assert "header:authorization" not in seen and "header:x-api-key" not in seen
    assert api.hits("/people")[0]["header:x-api-key"] == "key-Zq7SecretHeader"


def test_a_redirect_to_a_file_is_refused(api, lake, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "etc").write_text("[]")
    api.routes["/people"] = lambda q, h: (302, {"Location": (tmp_path / "etc").as_uri()}, b"")
    with pytest.raises(SourceError, match=r"(?i)redirect.* to (url )?'file://.*' (is not allowed|which is not http)"):
        lake.extract(lake.spec(source(api.url("/people"), bearer(monkeypatch))))


def test_a_response_over_the_bound_fails_the_source(api, lake) -> None:
    api.json_route("/people", lambda q: [{"id": i, "name": "x" * 100} for i in range(50)])
    with pytest.raises(SourceError, match="more than max_response_bytes=2048"):
        lake.extract(lake.spec(source(api.url("/people"), "max_response_bytes: 2048")))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "must be an http:// or https:// URL"),
        ("allowed_origins: ['https://cdn.example.com/path']", "must be an origin"),
        ("allowed_origins: ['file:///etc']", "must be an origin"),
    ],
)
def test_the_spec_names_http_urls_and_bare_origins(extra: str, message: str, lake) -> None:
    url = "file:///etc/passwd" if not extra else "https://api.example.com/x"
    with pytest.raises(SpecError, match=message):
        lake.spec(source(url, extra))


def test_an_echoed_token_is_redacted_in_the_error(api, lake, monkeypatch) -> None:
    api.routes["/people"] = lambda q, h: (400, {}, f"bad token {h.get('Authorization')} and key {h.get('X-Api-Key')}".encode())
    extra = bearer(monkeypatch) + "\n    headers: {X-Api-Key: key-Zq7SecretHeader}"
    with pytest.raises(SourceError) as raised:
        lake.extract(lake.spec(source(api.url("/people"), extra)))
    assert TOKEN in str(raised.value)  # the raw error, as raised inside the function
    shown = str(redaction.scrubbed(raised.value))  # what the stage wrapper lets Lambda report
    assert "Zq7Secret" not in shown and "bad token Bearer ***" in shown


def test_secrets_manager_values_are_registered_when_fetched(api, lake, aws) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="api/people-echo", SecretString=json.dumps({"username": "etl", "password": "pw-Zq7SecretBasic"})
    )["ARN"]
    api.routes["/people"] = lambda q, h: (403, {}, f"no access for {h.get('Authorization')}; password pw-Zq7SecretBasic".encode())
    with pytest.raises(SourceError) as raised:
        lake.extract(lake.spec(source(api.url("/people"), f"auth: {{type: basic, secret_arn: '{arn}'}}")))
    shown = redaction.redact(str(raised.value))
    assert "Zq7Secret" not in shown and "ZXRsOnB3LVpxN1NlY3JldEJhc2lj" not in shown
