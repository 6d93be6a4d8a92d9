"""The one place secrets are taken out of text a person or a log will read.

Everything that leaves a function or the local runtime as text goes through ``redact``:
error messages (the stage wrapper), log records (the logger's stream), the person-facing
cause (``etl_core.causes``), and locally the execution history, the outboxes and the CLI.

Two kinds of secret are found:

* by shape, wherever they appear: the password in a URL (``postgresql://u:PW@host``),
  a libpq ``password=...`` (quoted or not), a JSON ``"password": "..."``, and the
  credentials of an ``Authorization`` header (``Bearer ...``, ``Basic ...``);
* by value: every secret the process fetched (Secrets Manager values, the DSNs it was
  configured with) is registered when fetched, with the encodings it may come back in
  (percent-encoded, JSON-escaped, base64 for basic auth) and the pieces libpq echoes when a
  password containing ``@`` or ``%`` breaks a URL apart.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from typing import Any

MASK = "***"

#: Registered values shorter than this are not searched for: masking every ``ab`` would
#: destroy the message and protect nothing a four-character guess would not find.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>]*:)(?P<secret>[^\s/\"'<>]*)@")
_CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|[^\s'\",}]+)", re.IGNORECASE)
_JSON_PASSWORD = re.compile(r"(?P<head>(?<![A-Za-z0-9_])\\?[\"']?(?:password|passwd|secret)\\?[\"']?\s*:\s*\\?[\"'])(?P<secret>(?:[^\"'\\]|\\[^\"'])*)",
                            re.IGNORECASE)
_AUTHORIZATION = re.compile(
    r"(?P<head>(?:\bAuthorization\\?[\"']?\s*[:=]\s*\\?[\"']?(?:Bearer|Basic|Token|Digest)?|\bBearer)\s+)(?P<secret>[A-Za-z0-9._~+/=:-]{4,})",
    re.IGNORECASE,
)


def _encodings(value: str) -> set[str]:
    """``value`` as it may appear in text: raw, percent-encoded, percent-decoded, JSON-escaped (once, twice)."""
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), urllib.parse.unquote(value)}
    for form in list(forms):
        once = json.dumps(form)[1:-1]
        forms |= {once, json.dumps(once)[1:-1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def register(value: str | None) -> None:
    """Never show ``value`` again, in any encoding, in anything this process redacts."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update(_encodings(value))


def register_basic(user: str, password: str) -> None:
    """Basic auth credentials: the password, and the header's base64 of ``user:password``."""
    register(password)
    register(base64.b64encode(f"{user}:{password}".encode()).decode("ascii"))


def dsn_password(dsn: str) -> str | None:
    """The password in a DSN, URL form or libpq ``key=value`` form (None when it has none)."""
    if "://" in dsn:
        userinfo = urllib.parse.urlsplit(dsn).netloc.rpartition("@")[0]
        password = userinfo.partition(":")[2] if ":" in userinfo else ""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(dsn).query))
        return password or query.get("password") or None
    match = _CONNINFO_PASSWORD.search(dsn)
    return match.group("secret").strip("'") if match else None


def register_dsn(dsn: str | None) -> None:
    """A DSN's password, and the pieces libpq echoes when the password breaks the URL apart:
    libpq ends the user info at the *first* ``@``, so ``u:pa@ss@host`` shows ``ss@host`` as the host."""
    password = dsn_password(dsn or "")
    if not password:
        return
    register(password)
    for cut in ("@", "/", "?", "#"):
        for piece in password.split(cut)[1:]:
            register(piece)


def _mask(match: re.Match[str]) -> str:
    return match.group("head") + MASK + match.group(0)[match.end("secret") - match.start():]


def redact(text: str) -> str:
    """``text`` with every secret, by shape and by registered value, replaced by ``***``."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in (_URL_PASSWORD, _CONNINFO_PASSWORD, _JSON_PASSWORD, _AUTHORIZATION):
        text = pattern.sub(_mask, text)
    return text


def redact_data(value: Any) -> Any:
    """A JSON-like value with every string in it redacted (keys too); the structure is kept intact."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def scrubbed(exc: BaseException) -> BaseException:
    """``exc`` itself if its message shows no secret; else an exception of the same type name
    (Step Functions' Retry and Catch match on it) whose message is redacted."""
    text = str(exc)
    clean = redact(text)
    if clean == text:
        return exc
    try:
        replacement = type(exc)(clean)
        if str(replacement) == clean:
            return replacement
    except Exception:  # noqa: BLE001 - a constructor with another signature: fall back to a same-named type
        pass
    return type(type(exc).__name__, (Exception,), {"__module__": type(exc).__module__})(clean)
