"""Confinement: every name and path a spec or an event gives stays inside the root it belongs to.

A spec is data a user wrote, so nothing in it may steer a read or a write out of its place:
the transform SQL is a file in the pipelines folder; a file source reads under the raw root
(or an ``s3://`` bucket the spec names outright); a lake target writes under the lake root
(or a bucket the spec names). Names that become parts of paths (pipeline, source, target,
run id) match a pattern without separators or dots. Checks run twice, cheaply: on the text
when the spec is parsed, and on the expanded URI before any I/O, so a placeholder can never
smuggle in what the text did not show.
"""
from __future__ import annotations

import posixpath
import re

from etl_core.errors import SpecError

#: Pipeline names: the spec's file name and a part of every lake path.
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: Source and target names: parts of staging and quarantine paths, and SQL table names.
PART_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
#: Run ids: a part of every lake path of the run (no separators; dots only inside).
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")

_BUCKET = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/|$)")


def check_name(value: str, pattern: re.Pattern[str], what: str) -> str:
    """``value`` if it is a safe path part, else a ValueError the spec's error formatting names."""
    if not pattern.match(value):
        raise ValueError(f"{what} {value!r} must match {pattern.pattern} (it becomes part of a path)")
    return value


def _bad_segment(path: str) -> str | None:
    for segment in path.split("/"):
        if segment in ("..", ".") or "\\" in segment or segment.startswith("~"):
            return segment
    return None


def check_sql_path(value: str) -> str:
    """The transform SQL: a relative ``.sql`` path inside the pipelines folder, checked on the text."""
    if value.startswith("/") or "://" in value or ":" in value.split("/", 1)[0]:
        raise ValueError(f"{value!r} must be a path relative to the pipelines folder")
    bad = _bad_segment(value)
    if bad is not None or "" in value.split("/"):
        raise ValueError(f"{value!r} must stay inside the pipelines folder (no '..', '.', '~' or empty parts)")
    if not value.endswith(".sql"):
        raise ValueError(f"{value!r} must name a .sql file")
    return value


def check_uri_template(value: str) -> str:
    """A spec URI before expansion: placeholder-rooted (``{raw_uri}/...``) or ``s3://bucket/...``, with no
    ``..``, ``.`` or ``~`` parts. Which root it must end up under is checked after expansion (``confine``)."""
    if value.startswith(("/", "file:", "~")):
        raise ValueError(f"{value!r}: a spec names storage by {{raw_uri}}, {{lake_uri}} or an s3:// bucket, not a local path")
    if "://" in value and not value.startswith("s3://"):
        raise ValueError(f"{value!r}: only s3:// URIs (or {{raw_uri}} / {{lake_uri}}) are allowed")
    bad = _bad_segment(value.split("://", 1)[-1])
    if bad is not None:
        raise ValueError(f"{value!r} must not contain a {bad!r} path part")
    return value


def declared_bucket(template: str) -> str | None:
    """The bucket a spec URI names outright (``s3://bucket/...``), the only buckets a spec may add."""
    match = _BUCKET.match(template)
    return match.group(1) if match else None


def _normal(uri: str) -> str:
    """A URI with ``.``/``..`` resolved and no trailing slash, for a prefix comparison."""
    if uri.startswith("s3://"):
        return "s3://" + posixpath.normpath(uri[len("s3://"):]).lstrip("/")
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return posixpath.normpath(posixpath.abspath(path))


def same_location(a: str, b: str) -> bool:
    """Whether two URIs name the same object or prefix (``sample/raw/x/`` and ``/abs/sample/raw/x``)."""
    return _normal(a) == _normal(b)


def _inside(uri: str, root: str) -> bool:
    if not root:
        return False
    uri, root = _normal(uri), _normal(root)
    return uri == root or uri.startswith(root.rstrip("/") + "/")


def confine(uri: str, template: str, roots: dict[str, str], where: str) -> str:
    """``uri`` (the expansion of ``template``) if it lies under one of ``roots`` or under the bucket
    the template names outright; else a SpecError naming ``where`` (``orders.yaml: sources[0].uri``)."""
    bucket = declared_bucket(template)
    if bucket is not None and _inside(uri, f"s3://{bucket}") and _bad_segment(uri[len("s3://"):]) is None:
        return uri
    if _bad_segment(uri.split("://", 1)[-1]) is None and any(_inside(uri, root) for root in roots.values()):
        return uri
    allowed = ", ".join(f"{{{name}}} ({root or 'not set'})" for name, root in roots.items())
    raise SpecError(f"{where}: {template!r} resolves to {uri}, outside {allowed} and names no s3:// bucket of its own")
