"""`etl serve` as a user starts it: a separate process, the mock config from SFN_MOCK_CONFIG,
port 0 (the kernel picks a free one, printed on the first line), stopped with SIGTERM."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import boto3

from .conftest import CLIENT_ARGS, ETL_ARN, MOCK_CONFIG, REPO, wait_done


def test_etl_serve_process(tmp_path):
    env = {**os.environ, "SFN_MOCK_CONFIG": str(MOCK_CONFIG)}
    command = [sys.executable, "-m", "etl_local.cli", "--home", str(tmp_path / "home"), "--virtual-clock",
               "serve", "--port", "0"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()  # type: ignore[union-attr]
        match = re.match(r"etl serve: listening on (http://127\.0\.0\.1:\d+) \(state machines: EtlStateMachine;", first)
        assert match, first + process.stderr.read() if process.poll() is not None else first  # type: ignore[union-attr]
        sfn = boto3.client("stepfunctions", endpoint_url=match.group(1), **CLIENT_ARGS)
        started = sfn.start_execution(stateMachineArn=f"{ETL_ARN}#HappyPath", name="from-env",
                                      input=json.dumps({"pipeline": "orders"}))
        assert wait_done(sfn, started["executionArn"])["status"] == "SUCCEEDED"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "etl_local.cli", "--home", str(tmp_path / "home"), "serve",
                               "--port", str(port)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == f"etl: cannot listen on 127.0.0.1:{port}: Address already in use"
