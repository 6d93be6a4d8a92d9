"""Compare a local execution history with one AWS recorded, event by event.

A recorded history (``expected.history`` of a conformance case) is the list of
``GetExecutionHistory`` events as AWS returned them, with what cannot match locally
replaced by placeholders:

* every event's ``timestamp`` is ignored;
* a string holding ``<...>`` tokens is a template: each token matches any text
  (``"arn:<partition>:lambda:<region>:<account>:function:<resource:1>"``), and a string that
  is one token (``"<uuid:1>"``, ``"<random>"``) matches any value;
* a recorded value that is not a string where AWS logs a JSON string (``input``, ``output``,
  a Lambda ``cause``) is compared with that string parsed, as the recordings store them parsed.

Everything else must be equal: types, order, ids, ``previousEventId`` and every detail field.
With ``strict=False`` the ``cause`` fields are not compared (``--strict`` compares them word
for word).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"<[^<>]*>")
#: Fields holding JSON text. AWS keeps the execution input's text as the client sent it
#: (``[1, 2]``) where the local runtime writes compact JSON (``[1,2]``): they are compared
#: as JSON, keeping number spellings (``1.0`` is not ``1``).
_JSON_TEXT_KEYS = frozenset({"input", "output"})
#: Event-level keys that differ on every run.
_IGNORED_KEYS = frozenset({"timestamp"})


@lru_cache(maxsize=4096)
def _template(expected: str) -> re.Pattern[str] | None:
    """The regular expression of a placeholder template, or None for a plain string."""
    if "<" not in expected or not _TOKEN.search(expected):
        return None
    parts = _TOKEN.split(expected)
    return re.compile("(?s)" + ".*?".join(re.escape(part) for part in parts) + r"\Z")


def values_match(expected: Any, actual: Any, strict: bool = True, key: str = "") -> bool:
    """Whether ``actual`` (from the local history) matches the recorded ``expected`` value."""
    if key == "cause" and not strict:
        return True
    if isinstance(expected, str):
        if _TOKEN.fullmatch(expected):
            return True  # a whole-value placeholder stands for any value (a random number, an id)
        if not isinstance(actual, str):
            return False
        pattern = _template(expected)
        if pattern is not None:
            return pattern.match(actual) is not None
        return expected == actual or (key in _JSON_TEXT_KEYS and _same_json_text(expected, actual))
    if isinstance(actual, str) and not isinstance(expected, str):
        try:
            actual = json.loads(actual)
        except ValueError:
            return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return expected == actual
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or expected.keys() - _IGNORED_KEYS != actual.keys() - _IGNORED_KEYS:
            return False
        return all(values_match(value, actual[name], strict, name)
                   for name, value in expected.items() if name not in _IGNORED_KEYS)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(values_match(e, a, strict, key) for e, a in zip(expected, actual)))
    return expected == actual


def _same_json_text(expected: str, actual: str) -> bool:
    try:
        return _compact(json.loads(expected)) == _compact(json.loads(actual))
    except ValueError:
        return False


_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


def _masked(event: dict[str, Any]) -> bool:
    """An event localstack recorded with its id masked: one of concurrent branches' events,
    whose order AWS does not define."""
    return isinstance(event.get("id"), str)


def _brief(event: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in event.items() if k not in _IGNORED_KEYS}, ensure_ascii=False)
    return text if len(text) <= 400 else text[:400] + "..."


def compare_histories(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
                      strict: bool = True) -> list[str]:
    """Mismatches between a recorded and a local history (empty when they match event by event).

    Reports the first differing event with both versions, or the differing lengths. A run of
    masked events (concurrent branches) must match the same number of local events in any order.
    """
    index = 0
    while index < min(len(expected), len(actual)):
        if _masked(expected[index]):
            end = index
            while end < len(expected) and _masked(expected[end]):
                end += 1
            unmatched = list(actual[index:end])
            for want in expected[index:end]:
                found = next((got for got in unmatched if values_match(want, got, strict)), None)
                if found is None:
                    return [f"history event {index + 1}..{end} (concurrent, any order): no local event matches\n"
                            f"      AWS:   {_brief(want)}"]
                unmatched.remove(found)
            index = end
            continue
        want, got = expected[index], actual[index]
        if not values_match(want, got, strict):
            return [f"history event {index + 1} differs:\n      AWS:   {_brief(want)}\n      local: {_brief(got)}"]
        index += 1
    if len(expected) != len(actual):
        extra = actual[len(expected)] if len(actual) > len(expected) else expected[len(actual)]
        side = "local has more, next" if len(actual) > len(expected) else "AWS has more, next"
        return [f"history has {len(actual)} events, AWS recorded {len(expected)} ({side}: {_brief(extra)})"]
    return []
