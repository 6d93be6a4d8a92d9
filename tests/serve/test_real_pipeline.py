"""The project's pipeline for real (no mocks) through `etl serve`: the template's functions, local
S3 folders and the shared real PostgreSQL, started with boto3 as on AWS and seen by `etl executions`."""
from __future__ import annotations

import json

import boto3

from .conftest import CLIENT_ARGS, ETL_ARN, REPO, wait_done


def test_the_happy_path_runs_the_real_handlers(make_server, warehouse_dsn):
    server = make_server(mock_config=None, warehouse_dsn=warehouse_dsn)
    sfn = boto3.client("stepfunctions", endpoint_url=server.url, **CLIENT_ARGS)
    event = (REPO / "events" / "execution-happy-path.json").read_text()
    started = sfn.start_execution(stateMachineArn=ETL_ARN, name="real", input=event)
    done = wait_done(sfn, started["executionArn"], timeout=600)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    counts = json.loads(done["output"])["counts"]
    assert counts["extracted"] == counts["valid"] + counts["quarantined"] + counts["deduplicated"]
    assert set(counts["loaded"]) == {"processed", "daily_revenue", "warehouse"}
    listed = server.runtime.store.list()
    assert [(e["name"], e["status"]) for e in listed] == [("real", "SUCCEEDED")]
