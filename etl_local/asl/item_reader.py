"""ItemReader: where a Distributed Map's items come from when they are not in the state input.

Shapes follow the AWS Step Functions developer guide, "ItemReader (Map)":

* ``arn:aws:states:::s3:listObjectsV2`` with Parameters ``{Bucket, Prefix}``: one item per
  object, ``{"Etag": "\\"<md5>\\"", "Key", "LastModified": <epoch seconds>, "Size",
  "StorageClass": "STANDARD"}``, in key order.
* ``arn:aws:states:::s3:getObject`` with Parameters ``{Bucket, Key}`` and ``ReaderConfig``:
  ``InputType`` ``CSV`` (``CSVHeaderLocation`` ``FIRST_ROW`` or ``GIVEN`` with ``CSVHeaders``,
  ``CSVDelimiter`` COMMA|PIPE|SEMICOLON|SPACE|TAB; every value a string, a missing one ``""``),
  ``JSON`` (the object is a JSON array) or ``JSONL`` (one JSON value per line).
* ``ReaderConfig.MaxItems`` / ``MaxItemsPath`` keep only the first items.

A read that cannot be done (unknown bucket, missing object, malformed content) fails the
state with ``States.ItemReaderFailed``, naming the state and the bucket, as AWS does.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable

from .errors import StatesError
from .storage import BucketBlock, NoSuchKey, ObjectStore, UnknownBucket

LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
GET_OBJECT = "arn:aws:states:::s3:getObject"
RESOURCES = (LIST_OBJECTS, GET_OBJECT)
INPUT_TYPES = ("CSV", "JSON", "JSONL")
ITEM_READER_FAILED = "States.ItemReaderFailed"
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}

#: Evaluates a payload template (JSONPath Parameters / JSONata Arguments) of the Map state.
Evaluate = Callable[[Any, str], Any]
#: Reads a reference path (``MaxItemsPath``) against the Map state's input.
ReadPath = Callable[[str], Any]


class ItemReader(BucketBlock):
    """A compiled ``ItemReader`` block."""

    block = "ItemReader"
    error = ITEM_READER_FAILED

    def __init__(self, state_name: str, spec: dict[str, Any], jsonata: bool) -> None:
        super().__init__(state_name, spec, jsonata)
        self.resource: str = spec["Resource"]
        self.config: dict[str, Any] = spec.get("ReaderConfig", {})

    def read(self, s3: ObjectStore | None, evaluate: Evaluate, read_path: ReadPath) -> list[Any]:
        """The items, at most MaxItems of them."""
        arguments, bucket = self.bucket_arguments(s3, evaluate, "reads from")
        limit = self._max_items(evaluate, read_path)
        try:
            if self.resource == LIST_OBJECTS:
                items = self._listing(s3, bucket, arguments.get("Prefix", ""))
            else:
                if not isinstance(arguments.get("Key"), str):
                    raise self.failed(f"its {self.arguments_field} need a string 'Key' for {GET_OBJECT}")
                items = self._parse(s3.get_object(bucket, arguments["Key"]), arguments["Key"])
        except (UnknownBucket, NoSuchKey) as missing:
            raise self.failed(f"it cannot read from the bucket '{bucket}': {missing.args[0]}") from None
        return items if limit is None else items[:limit]

    def _max_items(self, evaluate: Evaluate, read_path: ReadPath) -> int | None:
        if "MaxItemsPath" in self.config:
            value = read_path(self.config["MaxItemsPath"])
        elif "MaxItems" in self.config:
            value = evaluate(self.config["MaxItems"], "ItemReader/ReaderConfig/MaxItems")
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.failed(f"MaxItems must be a non-negative integer, got: {json.dumps(value)}")
        return value or None  # AWS: 0 means no limit

    @staticmethod
    def _listing(s3: ObjectStore, bucket: str, prefix: str) -> list[dict[str, Any]]:
        return [{"Etag": info.etag, "Key": info.key, "LastModified": int(info.last_modified),
                 "Size": info.size, "StorageClass": "STANDARD"}
                for info in s3.list_objects(bucket, prefix)]

    def _parse(self, body: bytes, key: str) -> list[Any]:
        input_type = self.config.get("InputType")
        try:
            text = body.decode("utf-8-sig")
            if input_type == "CSV":
                return self._csv(text)
            if input_type == "JSONL":
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            items = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as bad:
            raise self.failed(f"the object '{key}' is not valid {input_type}: {bad}") from None
        if not isinstance(items, list):
            raise StatesError(self.error, "Attempting to map over non-iterable node.")  # AWS's words
        return items

    def _csv(self, text: str) -> list[dict[str, str]]:
        delimiter = CSV_DELIMITERS[self.config.get("CSVDelimiter", "COMMA")]
        rows = csv.reader(io.StringIO(text), delimiter=delimiter)
        if self.config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
            headers = list(self.config.get("CSVHeaders", []))
        else:
            headers = next(rows, [])
        if len(set(headers)) < len(headers):
            raise self.failed("CSV headers cannot contain duplicates.")
        return [{header: row[index] if index < len(row) else "" for index, header in enumerate(headers)}
                for row in rows if row]
