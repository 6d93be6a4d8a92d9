"""ResultWriter: export a Distributed Map's child execution results to S3.

Follows the AWS developer guide, "ResultWriter (Map)", for ``arn:aws:states:::s3:putObject``
with Parameters (JSONata: Arguments) ``{Bucket, Prefix}``:

* under ``<Prefix>/<map run id>/`` it writes ``SUCCEEDED_0.json``, ``FAILED_0.json`` (failed and
  aborted children) and ``PENDING_0.json`` (items never started), each a JSON array of
  DescribeExecution-like entries (ExecutionArn, Input, InputDetails, Name, Output/OutputDetails
  or Error/Cause, RedriveCount, StartDate, StateMachineArn, Status, StopDate), and only when it
  has entries, as AWS does;
* then ``manifest.json``: ``{"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED": [...],
  "PENDING": [...], "SUCCEEDED": [...]}}`` listing each file as ``{"Key", "Size"}``;
* the Map state's result becomes ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``,
  Key being the manifest's.

Results are written when the Map Run fails too (before the state fails). A bucket the
storage does not know fails the state with ``States.ResultWriterFailed``.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from .history import to_json
from .map_run import ABORTED, FAILED, PENDING, SUCCEEDED, MapRun
from .storage import BucketBlock, ObjectStore, UnknownBucket

PUT_OBJECT = "arn:aws:states:::s3:putObject"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"

Evaluate = Callable[[Any, str], Any]


class ResultWriter(BucketBlock):
    """A compiled ``ResultWriter`` block."""

    block = "ResultWriter"
    error = RESULT_WRITER_FAILED

    def write(self, s3: ObjectStore | None, evaluate: Evaluate, map_run: MapRun,
              items: list[Any]) -> dict[str, Any]:
        """Write the result files and the manifest; return the Map state's result."""
        arguments, bucket = self.bucket_arguments(s3, evaluate, "writes to")
        prefix = str(arguments.get("Prefix", ""))
        folder = f"{prefix.rstrip('/')}/{map_run.id}/" if prefix else f"{map_run.id}/"
        groups: dict[str, list[dict[str, Any]]] = {FAILED: [], PENDING: [], SUCCEEDED: []}
        for child, item in zip(map_run.children or [], items):
            if child is None:
                groups[PENDING].append({"Input": to_json(item),
                                        "InputDetails": {"Included": True}, "Status": PENDING})
            else:
                groups[FAILED if child.status in (FAILED, ABORTED) else SUCCEEDED].append(map_run.entry(child))
        manifest: dict[str, Any] = {"DestinationBucket": bucket, "MapRunArn": map_run.arn,
                                    "ResultFiles": {status: [] for status in groups}}
        try:
            for status, entries in groups.items():
                if entries:
                    key = f"{folder}{status}_0.json"
                    body = json.dumps(entries, indent=2).encode()
                    s3.put_object(bucket, key, body)
                    manifest["ResultFiles"][status].append({"Key": key, "Size": len(body)})
            manifest_key = f"{folder}manifest.json"
            s3.put_object(bucket, manifest_key, json.dumps(manifest, indent=2).encode())
        except UnknownBucket as missing:
            raise self.failed(f"it cannot write to the bucket '{bucket}': {missing.args[0]}") from None
        return {"MapRunArn": map_run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}
