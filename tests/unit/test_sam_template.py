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


FIDELITY = """
Parameters:
  Subnets: {Type: CommaDelimitedList, Default: "subnet-a, subnet-b"}
  NoSubnets: {Type: CommaDelimitedList, Default: ""}
  Vpc: {Type: String, Default: "yes"}
Conditions:
  HasVpc: !Equals [!Ref Vpc, "yes"]
  NoVpc: !Not [!Condition HasVpc]
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    Timeout: 30
    Layers: [!Ref Base]
    Environment:
      Variables: {A: global-a, B: global-b}
Resources:
  Base: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: base/}}
  Extra: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: extra/}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Timeout: 60
      ReservedConcurrentExecutions: 2
      Layers: [!Ref Extra]
      Environment:
        Variables:
          B: local-b
          FIRST_SUBNET: !Select [0, !Ref Subnets]
          SUBNETS: !Join [",", !Ref Subnets]
          COUNT_EMPTY: !If [NoVpc, none, !Join ["", !Ref NoSubnets]]
          DROPPED: !If [NoVpc, x, !Ref AWS::NoValue]
  OnlyWithoutVpc:
    Type: AWS::Serverless::Function
    Condition: NoVpc
    Properties: {CodeUri: other/}
"""


def test_globals_merge_as_sam_merges_them_and_conditions_decide(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(FIDELITY)
    app = SamApp(tmp_path / "template.yaml")
    functions = app.functions()
    assert set(functions) == {"Fn"}  # OnlyWithoutVpc's condition is false: the resource does not exist
    fn = functions["Fn"]
    assert fn.layer_dirs == [tmp_path / "base", tmp_path / "extra"]  # lists: the global items, then the resource's
    assert fn.environment == {"A": "global-a", "B": "local-b", "FIRST_SUBNET": "subnet-a",
                              "SUBNETS": "subnet-a,subnet-b", "COUNT_EMPTY": ""}  # maps merged; NoValue drops DROPPED
    assert (fn.timeout, fn.runtime, fn.reserved_concurrency) == (60, "python3.12", 2)
    assert app.ref("Subnets") == ["subnet-a", "subnet-b"] and app.ref("NoSubnets") == []
    assert SamApp(tmp_path / "template.yaml", {"Vpc": "no"}).functions().keys() == {"Fn", "OnlyWithoutVpc"}


def test_an_unknown_getatt_or_condition_names_the_resource(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(FIDELITY.replace("B: local-b", "B: !GetAtt Base.Nope"))
    with pytest.raises(TemplateError, match=r"Fn::GetAtt Base.Nope: the local runtime knows no attribute 'Nope' "
                                            r"of AWS::Serverless::LayerVersion \(resource Base\)"):
        SamApp(tmp_path / "template.yaml").functions()
    (tmp_path / "template.yaml").write_text(FIDELITY.replace("B: local-b", "B: !GetAtt Missing.Arn"))
    with pytest.raises(TemplateError, match=r"Fn::GetAtt Missing.Arn: no resource 'Missing' in the template"):
        SamApp(tmp_path / "template.yaml").functions()
    (tmp_path / "template.yaml").write_text(FIDELITY.replace("!If [NoVpc, x,", "!If [Nope, x,"))
    with pytest.raises(TemplateError, match=r"Fn::If: no condition 'Nope' in Conditions"):
        SamApp(tmp_path / "template.yaml").functions()


TRANSLATE = """
import json, sys
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(sys.stdin.read())
for resource in template["Resources"].values():  # the translator wants S3 locations, as after `sam package`
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):
        if isinstance(resource.get("Properties", {}).get(key), str):
            resource["Properties"][key] = "s3://local/" + resource["Properties"][key]
out = Translator(managed_policy_map={}, sam_parser=Parser()).translate(
    template, parameter_values={}, get_managed_policy_map=lambda: {})
print(json.dumps({lid: r["Properties"] for lid, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}))
"""


@pytest.mark.skipif(not (REPO / ".venv-tools" / "bin" / "python").exists(),
                    reason="needs the tools venv (.venv-tools: `make lint` or .ci/run step 1) for aws-sam-translator")
def test_globals_merge_matches_aws_sam_translator_on_the_project_template() -> None:
    """SAM's own transform (aws-sam-translator, the reference) against our merge, property by property."""
    import json
    import os
    import re
    import subprocess

    out = subprocess.run([str(REPO / ".venv-tools" / "bin" / "python"), "-c", TRANSLATE], input=(REPO / "template.yaml").read_text(),
                         capture_output=True, text=True, check=True, env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    translated = json.loads(out.stdout)
    app = SamApp(REPO / "template.yaml")
    assert set(translated) == set(app.functions())
    for lid, expected in translated.items():
        ours = app.function_properties(lid)
        for key in ("Handler", "Runtime", "Timeout", "MemorySize", "Environment", "VpcConfig",
                    "ReservedConcurrentExecutions", "Architectures"):
            assert ours.get(key) == expected.get(key), (lid, key)
        # The translator renames layers (SharedLayer -> SharedLayer<hash>), inside an !If too.
        renamed = json.dumps(expected["Layers"])
        for name in app.resources:
            renamed = re.sub(rf'"{name}[0-9a-f]{{10}}"', f'"{name}"', renamed)
        assert ours["Layers"] == json.loads(renamed), lid


def test_every_function_allocates_from_jemalloc_where_pyarrow_has_it() -> None:
    """Every function sets Arrow's jemalloc pool (the Globals' environment, merged into each
    function's own) on x86_64 only: pyarrow's arm64 wheels have no jemalloc, and Arrow would warn
    at every cold start and fall back to mimalloc."""
    x86 = SamApp(REPO / "template.yaml").functions()
    arm = SamApp(REPO / "template.yaml", {"Architecture": "arm64"}).functions()
    assert x86 and {name: fn.environment.get("ARROW_DEFAULT_MEMORY_POOL") for name, fn in x86.items()} == dict.fromkeys(x86, "jemalloc")
    assert arm and all("ARROW_DEFAULT_MEMORY_POOL" not in fn.environment for fn in arm.values())
    # merged with each function's own variables, not replaced by them (every function names its service)
    assert all(fn.environment.get("POWERTOOLS_SERVICE_NAME", "").startswith("etl-") for fn in x86.values())
