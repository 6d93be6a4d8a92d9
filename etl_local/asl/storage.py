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
from typing import Mapping, Protocol


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
    digest = hashlib.md5()  # noqa: S324 - S3's checksum, not security
    with path.open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return f'"{digest.hexdigest()}"'
