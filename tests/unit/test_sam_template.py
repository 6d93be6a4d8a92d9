"""Reading template.yaml locally: intrinsic functions, functions, substitutions, local env."""
from __future__ import annotations

from pathlib import Path

import pytest

from etl_local.sam_template import SamApp, StateMachineDef, TemplateError

REPO = Path(__file__).resolve().parents[2]

MINI = """
Parameters:
  Stage: {Type: String, Default: dev}
  Email: {Type: String, Default: ""}
Conditions:
  HasEmail: !Not [!Equals [!Ref Email, ""]]
Globals:
  Function:
    Runtime: python3.12
    Environment:
      Variables:
        STAGE: !Ref Stage
        BUCKET: !Sub "s3://${Lake}/${Stage}"
Resources:
  Lake: {Type: AWS::S3::Bucket}
  Queue: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/fn/
      Handler: app.handler
      Environment:
        Variables:
          QUEUE: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          MAYBE: !If [HasEmail, with-email, without-email]
          JOINED: !Join ["-", [a, !Ref Stage]]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm.asl.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
"""


def test_intrinsics_resolve_for_local_use(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(MINI)
    app = SamApp(tmp_path / "template.yaml", {"Stage": "prod"})
    fn = app.functions()["Fn"]
    assert fn.environment == {
        "STAGE": "prod",
        "BUCKET": "s3://Lake/prod",
        "QUEUE": "https://sqs.us-east-1.amazonaws.com/123456789012/Queue",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:Queue",
        "MAYBE": "without-email",
        "JOINED": "a-prod",
    }
    assert fn.code_uri == tmp_path / "src/fn/" and fn.handler == "app.handler" and fn.runtime == "python3.12"


def test_definition_substitutions_are_filled_and_unknown_ones_named(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(MINI)
    (tmp_path / "sm.asl.json").write_text('{"Resource": "${FnArn}", "Other": "${Missing}"}')
    machine: StateMachineDef = SamApp(tmp_path / "template.yaml").state_machines()["Machine"]
    with pytest.raises(TemplateError, match=r"\$\{Missing\} has no DefinitionSubstitutions entry in Machine"):
        machine.definition_text()
    (tmp_path / "sm.asl.json").write_text('{"Resource": "${FnArn}"}')
    assert machine.definition_text() == '{"Resource": "arn:aws:lambda:us-east-1:123456789012:function:Fn"}'


def test_unknown_ref_is_named(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(MINI.replace("QUEUE: !Ref Queue", "QUEUE: !Ref Nope"))
    with pytest.raises(TemplateError, match="Ref to unknown name 'Nope'"):
        SamApp(tmp_path / "template.yaml").functions()


def test_the_project_template_declares_what_the_runtime_needs() -> None:
    app = SamApp(REPO / "template.yaml")
    functions = app.functions()
    assert set(functions) == {
        "PlanFunction", "ExtractFunction", "TransformFunction", "ValidateFunction", "LoadFunction", "FinalizeFunction",
        "ErrorHandlerFunction",
    }
    for fn in functions.values():
        assert (fn.code_uri / "app.py").exists() and fn.layer_dirs == [REPO / "src" / "shared"]
        assert fn.environment["POWERTOOLS_SERVICE_NAME"].startswith("etl-")
    machine = app.state_machines()["EtlStateMachine"]
    text = machine.definition_text()
    assert "${" not in text
    jobs = app.glue_jobs()
    assert [job.script for job in jobs.values()] == [REPO / "glue" / "etl_transform.py"]
