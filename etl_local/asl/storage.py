"""The object-storage port the engine reads Distributed Map items from and writes results to.

A Distributed Map's ``ItemReader`` and ``ResultWriter`` talk to Amazon S3 themselves (no Task,
no handler), so the engine needs storage of its own. It depends only on ``ObjectStore``; the
runtime decides what a bucket is. ``LocalBuckets`` is the local answer: each bucket is a
folder and an object key is a path under it, the same key layout as on S3.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from .errors import StatesError


class UnknownBucket(KeyError):
    """A bucket the storage was not told about (its message lists the known ones)."""


class NoSuchKey(KeyError):
    """An object key that does not exist in its bucket."""


@dataclass(frozen=True)
class ObjectInfo:
    """One entry of a ListObjectsV2 listing."""

    key: str
    size: int
    last_modified: float
    etag: str


class ObjectStore(Protocol):
    """What a Distributed Map needs from S3."""

    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, in key order (ListObjectsV2)."""

    def get_object(self, bucket: str, key: str) -> bytes:
        """An object's content (GetObject)."""

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """Create or replace an object (PutObject)."""


class LocalBuckets:
    """Buckets as folders: ``s3://bucket/a/b.csv`` is ``<folder of bucket>/a/b.csv``."""

    def __init__(self, folders: Mapping[str, Path | str]) -> None:
        self.folders = {name: Path(folder) for name, folder in folders.items()}
        self._lock = threading.Lock()

    def folder(self, bucket: str) -> Path:
        try:
            return self.folders[bucket]
        except KeyError:
            known = ", ".join(sorted(self.folders)) or "none"
            raise UnknownBucket(f"no local folder for the bucket '{bucket}' (known buckets: {known})") from None

    def path(self, bucket: str, key: str) -> Path:
        root = self.folder(bucket).resolve()
        path = (root / key).resolve()
        if root != path and root not in path.parents:
            raise NoSuchKey(f"the key '{key}' is outside the bucket '{bucket}'")
        return path

    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        root = self.folder(bucket)
        if not root.is_dir():
            return []
        found = []
        for path in root.rglob("*"):
            key = path.relative_to(root).as_posix()
            if path.is_file() and key.startswith(prefix):
                stat = path.stat()
                found.append(ObjectInfo(key, stat.st_size, stat.st_mtime, _etag(path)))
        # S3 lists keys in UTF-8 binary order.
        return sorted(found, key=lambda info: info.key.encode())

    def get_object(self, bucket: str, key: str) -> bytes:
        path = self.path(bucket, key)
        if not path.is_file():
            raise NoSuchKey(f"the object s3://{bucket}/{key} does not exist (local file {path})")
        return path.read_bytes()

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        path = self.path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            temporary.write_bytes(body)
            temporary.replace(path)


def _etag(path: Path) -> str:
    """S3's ETag of a single-part upload: the quoted MD5 of the content."""
    digest = hashlib.md5(usedforsecurity=False)  # S3's checksum, not security
    with path.open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'


class BucketBlock:
    """What ItemReader and ResultWriter share: a Map state block whose Parameters (Arguments
    in JSONata) name an S3 bucket, and whose failures carry the block's own error name."""

    block = ""
    error = ""

    def __init__(self, state_name: str, spec: dict[str, Any], jsonata: bool) -> None:
        self.state_name = state_name
        self.arguments_field = "Arguments" if jsonata else "Parameters"
        self.arguments = spec.get(self.arguments_field, {})

    def bucket_arguments(self, s3: ObjectStore | None, evaluate: Callable[[Any, str], Any], verb: str) -> tuple[dict[str, Any], str]:
        """The evaluated arguments and their bucket; ``verb`` says what the block does with it."""
        arguments = evaluate(self.arguments, f"{self.block}/{self.arguments_field}")
        if not isinstance(arguments, dict) or not isinstance(arguments.get("Bucket"), str):
            raise self.failed(f"its {self.arguments_field} need a string 'Bucket'")
        bucket = arguments["Bucket"]
        if s3 is None:
            raise self.failed(f"it {verb} the bucket '{bucket}' but the execution was given no object "
                              "storage (StateMachine.execute(..., s3=LocalBuckets({...})))")
        return arguments, bucket

    def failed(self, detail: str) -> StatesError:
        return StatesError(self.error, f"The {self.block} of the Map state '{self.state_name}' failed: {detail}")
