"""Least privilege, encryption and SAM conventions of template.yaml, checked on what AWS would get.

The template goes through SAM's own transform (aws-sam-translator, the release SAM CLI pins),
so the roles SAM generates for the functions (policy templates expanded, managed policies
attached) are checked as CloudFormation would receive them. The policies' intrinsic functions
are then resolved with the local runtime's resolver (conditions follow the parameters), and
each question is asked as IAM evaluates it: is this action on this ARN allowed by an Allow
statement whose action and resource patterns match (``*`` and ``?`` wildcards)?
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re
import subprocess
from functools import cache, lru_cache
from pathlib import Path
from typing import Callable

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from etl_local.sam_template import PSEUDO, SamApp, function_arn

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ["PlanFunction", "ExtractFunction", "TransformFunction", "ValidateFunction", "LoadFunction",
             "FinalizeFunction", "ErrorHandlerFunction"]
WAREHOUSE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:warehouse-AbCdEf"
SOURCE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-AbCdEf"
VPC = {"SubnetIds": "subnet-1,subnet-2", "SecurityGroupIds": "sg-1"}
VPC_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"

#: One object per area of the buckets (the local resolver names a bucket's ARN by its logical id).
RAW = "arn:aws:s3:::rawbucket/orders/2026-11-26/orders.csv"
LAKE = {
    "staging": "arn:aws:s3:::lakebucket/staging/orders/2026-11-26/sources/orders/part-0.parquet",
    "quarantine": "arn:aws:s3:::lakebucket/quarantine/orders/2026-11-26/validate.parquet",
    "processed": "arn:aws:s3:::lakebucket/processed/orders/order_date=2026-11-26/part-2026-11-26-0.parquet",
    "aggregated": "arn:aws:s3:::lakebucket/aggregated/orders_daily_revenue/run_id=2026-11-26/part-0.parquet",
    "state": "arn:aws:s3:::lakebucket/state/orders/tiers.json",
    "glue-tmp": "arn:aws:s3:::lakebucket/glue/tmp/part-0",
}
#: What each stage writes (and may therefore delete: a write is a temporary object then a move).
WRITES = {
    "PlanFunction": {"staging"},
    "ExtractFunction": {"staging", "quarantine"},
    "TransformFunction": {"staging"},
    "ValidateFunction": {"staging", "quarantine"},
    "LoadFunction": {"processed", "aggregated"},
    "FinalizeFunction": {"state"},
    "ErrorHandlerFunction": set(),
}
READS = {
    "PlanFunction": {"raw", "staging"},
    "ExtractFunction": {"raw", "staging", "quarantine", "state"},
    "TransformFunction": {"staging"},
    "ValidateFunction": {"staging", "quarantine"},
    "LoadFunction": {"staging", "processed", "aggregated"},
    "FinalizeFunction": {"staging", "state"},
    "ErrorHandlerFunction": set(),
}


@lru_cache(maxsize=None)
def _translated(overrides: tuple[tuple[str, str], ...]) -> str:
    """The template after SAM's transform, as JSON (local paths stand in as S3 URIs, as `sam validate` does)."""
    template = yaml_parse((REPO / "template.yaml").read_text())
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{key}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return json.dumps(translator.translate(template, parameter_values=dict(overrides), get_managed_policy_map=lambda: {}))


class Stack:
    """The translated template with the given parameter values, intrinsic functions resolved."""

    def __init__(self, tmp_path: Path, **overrides: str) -> None:
        path = tmp_path / "translated.json"
        path.write_text(_translated(tuple(sorted(overrides.items()))))
        self.app = SamApp(path, overrides)
        self.resources = self.app.resources

    def resolved(self, logical_id: str) -> dict:
        return self.app.resolve(copy.deepcopy(self.resources[logical_id]))

    def exists(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.app.conditions[condition]

    def layer(self, name: str) -> str:
        """The logical id SAM gives a layer version (the name and a hash of its content)."""
        (found,) = [lid for lid in self.resources if re.fullmatch(rf"{name}[0-9a-f]{{10}}", lid)]
        return found

    def role_of(self, function: str) -> str:
        role = self.resources[function]["Properties"]["Role"]
        return role["Fn::GetAtt"][0]

    @cache
    def statements(self, role: str) -> list[dict]:
        props = self.resolved(role)["Properties"]
        found = []
        for policy in props.get("Policies") or []:
            if policy:
                statements = policy["PolicyDocument"]["Statement"]
                found += statements if isinstance(statements, list) else [statements]
        return found

    def managed_policies(self, role: str) -> list[str]:
        return [arn for arn in self.resolved(role)["Properties"].get("ManagedPolicyArns") or [] if arn]

    def allows(self, role: str, action: str, arn: str) -> bool:
        def listed(value: str | list[str]) -> list[str]:
            return [value] if isinstance(value, str) else list(value)

        return any(
            s["Effect"] == "Allow"
            and any(fnmatch.fnmatchcase(action, a) for a in listed(s["Action"]))
            and any(r and fnmatch.fnmatchcase(arn, r) for r in listed(s["Resource"]))
            for s in self.statements(role)
        )


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Stack]:
    """Stacks by parameter values, each translated and loaded once per module (they are read only)."""
    made: dict[tuple, Stack] = {}

    def stack_with(**overrides: str) -> Stack:
        key = tuple(sorted(overrides.items()))
        if key not in made:
            made[key] = Stack(tmp_path_factory.mktemp("stack"), **overrides)
        return made[key]

    return stack_with


@pytest.fixture
def stack(stacks: Callable[..., Stack]) -> Stack:
    return stacks()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_reads_writes_and_deletes_exactly_its_stage_prefixes(stack: Stack, function: str) -> None:
    role = stack.role_of(function)
    areas = {"raw": RAW, **LAKE}
    can = {verb: {area for area, arn in areas.items() if stack.allows(role, f"s3:{verb}", arn)}
           for verb in ("GetObject", "PutObject", "DeleteObject")}
    assert can["PutObject"] == WRITES[function]
    assert can["DeleteObject"] == WRITES[function]  # never the raw bucket, never another stage's prefix
    assert can["GetObject"] == READS[function]
    # Nothing lake-wide: no s3:* and no grant on every object of the lake (the raw bucket is read whole).
    for statement in stack.statements(role):
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        assert "s3:*" not in statement["Action"]
        assert "arn:aws:s3:::lakebucket/*" not in resources, statement


def test_load_is_the_only_function_that_replaces_lake_targets_and_writes_redshift_copy_source(stack: Stack) -> None:
    copy_source = "arn:aws:s3:::lakebucket/staging/orders/2026-11-26/load/warehouse/rows.parquet"
    load = stack.role_of("LoadFunction")
    assert stack.allows(load, "s3:PutObject", copy_source)
    assert not stack.allows(load, "s3:DeleteObject", copy_source)
    assert [f for f in FUNCTIONS if stack.allows(stack.role_of(f), "s3:DeleteObject", LAKE["processed"])] == ["LoadFunction"]


def test_the_warehouse_secret_only_for_the_functions_that_connect_to_it(stacks: Callable[..., Stack]) -> None:
    stack = stacks(WarehouseSecretArn=WAREHOUSE_SECRET, SourceSecretArns=SOURCE_SECRET)
    readers = {f for f in FUNCTIONS if stack.allows(stack.role_of(f), "secretsmanager:GetSecretValue", WAREHOUSE_SECRET)}
    assert readers == {"ValidateFunction", "LoadFunction"}  # Plan never connects to the warehouse
    assert "WAREHOUSE_SECRET_ARN" not in stack.resolved("PlanFunction")["Properties"]["Environment"]["Variables"]
    sources = {f for f in FUNCTIONS if stack.allows(stack.role_of(f), "secretsmanager:GetSecretValue", SOURCE_SECRET)}
    assert sources == {"ExtractFunction"}
    # Without the parameter, nobody reads any secret.
    bare = stacks()
    assert not any(bare.allows(bare.role_of(f), "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*") for f in FUNCTIONS)


def test_the_idempotency_table_grant_is_the_item_actions_powertools_uses(stack: Stack) -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/IdempotencyTable"
    load = stack.role_of("LoadFunction")
    actions = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem", "DeleteTable",
               "UpdateTable", "DescribeTable"]
    assert [a for a in actions if stack.allows(load, f"dynamodb:{a}", table)] == ["GetItem", "PutItem", "UpdateItem",
                                                                                 "DeleteItem"]
    # Every stage that touches a run's staged data holds the run's lease there (etl_core.lease);
    # Finalize also gives it up, and Load deletes Powertools' records of failed loads.
    lease = [f for f in FUNCTIONS if f != "ErrorHandlerFunction"]
    assert [f for f in FUNCTIONS if stack.allows(stack.role_of(f), "dynamodb:PutItem", table)] == lease
    assert [f for f in FUNCTIONS if stack.allows(stack.role_of(f), "dynamodb:DeleteItem", table)] == ["LoadFunction", "FinalizeFunction"]
    for function in lease:
        assert not stack.allows(stack.role_of(function), "dynamodb:Scan", table), function


@pytest.mark.parametrize("role", ["GlueJobRole", "EmrJobRole"])
def test_spark_job_roles_touch_run_data_and_their_own_script_only(stack: Stack, role: str) -> None:
    for action in ("s3:GetObject", "s3:ListBucket", "s3:PutObject"):
        assert not stack.allows(role, action, RAW) and not stack.allows(role, action, "arn:aws:s3:::rawbucket")
    assert stack.allows(role, "s3:GetObject", LAKE["staging"]) and stack.allows(role, "s3:DeleteObject", LAKE["staging"])
    for area in ("processed", "aggregated", "state", "quarantine"):
        assert not stack.allows(role, "s3:PutObject", LAKE[area]), area
    artifacts = "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-1a2b3c"
    assert stack.allows(role, "s3:GetObject", f"{artifacts}/{PSEUDO['AWS::StackName']}/0123456789abcdef")
    assert not stack.allows(role, "s3:GetObject", f"{artifacts}/another-stack/0123456789abcdef")


def test_vpc_access_policy_and_vpc_config_only_when_the_vpc_parameters_are_set(stacks: Callable[..., Stack]) -> None:
    bare = stacks()
    for function in FUNCTIONS:
        assert VPC_POLICY not in bare.managed_policies(bare.role_of(function)), function
        assert not bare.resolved(function)["Properties"].get("VpcConfig"), function
    in_vpc = stacks(**VPC)
    attached = {f for f in FUNCTIONS if VPC_POLICY in in_vpc.managed_policies(in_vpc.role_of(f))}
    assert attached == {"ExtractFunction", "ValidateFunction", "LoadFunction"}
    for function in attached:
        assert in_vpc.resolved(function)["Properties"]["VpcConfig"] == {"SubnetIds": ["subnet-1", "subnet-2"],
                                                                        "SecurityGroupIds": ["sg-1"]}


def test_buckets_are_versioned_expire_old_versions_and_log_access_unless_turned_off(stacks: Callable[..., Stack]) -> None:
    stack = stacks()
    for bucket in ("RawBucket", "LakeBucket"):
        props = stack.resolved(bucket)["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert any("NoncurrentVersionExpiration" in rule for rule in props["LifecycleConfiguration"]["Rules"])
        assert props["LoggingConfiguration"]["DestinationBucketName"] == "AccessLogBucket"
    assert stack.exists("AccessLogBucket")
    off = stacks(AccessLogging="Disabled")
    assert not off.exists("AccessLogBucket") and not off.exists("AccessLogBucketPolicy")
    for bucket in ("RawBucket", "LakeBucket"):
        assert "LoggingConfiguration" not in off.resolved(bucket)["Properties"]  # AWS::NoValue


def test_every_log_group_is_encrypted_with_the_stack_key_that_cloudwatch_logs_may_use(stack: Stack) -> None:
    groups = [lid for lid, r in stack.resources.items() if r["Type"] == "AWS::Logs::LogGroup"]
    assert {f"{f}LogGroup" for f in FUNCTIONS} | {"StateMachineLogGroup"} <= set(groups)
    key_arn = stack.app.get_att("EncryptionKey", "Arn")
    for group in groups:
        assert stack.resolved(group)["Properties"]["KmsKeyId"] == key_arn, group
    statements = stack.resolved("EncryptionKey")["Properties"]["KeyPolicy"]["Statement"]
    logs = [s for s in statements if s["Principal"].get("Service") == "logs.us-east-1.amazonaws.com"]
    assert logs and "kms:GenerateDataKey*" in logs[0]["Action"]


def test_functions_publish_an_alias_that_the_state_machine_invokes(stack: Stack) -> None:
    substitutions = stack.resources["EtlStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for function in FUNCTIONS:
        alias = f"{function}Aliaslive"
        assert stack.resources[alias]["Type"] == "AWS::Lambda::Alias"
        assert substitutions[f"{function}Arn"] == {"Ref": alias}
        assert stack.resources[function]["Properties"]["LoggingConfig"] == {"LogFormat": "JSON"}
        qualified = f"{function_arn(function)}:live"
        assert stack.allows("EtlStateMachineRole", "lambda:InvokeFunction", qualified), function


@pytest.mark.parametrize(("architecture", "layer", "wheels"), [("x86_64", "SharedLayer", "x86_64"),
                                                               ("arm64", "SharedLayerArm64", "aarch64")])
def test_architecture_parameter_picks_the_functions_platform_and_the_layer_built_for_it(
    stacks: Callable[..., Stack], architecture: str, layer: str, wheels: str
) -> None:
    stack = stacks(Architecture=architecture)
    for function in FUNCTIONS:
        props = stack.resolved(function)["Properties"]
        assert props["Architectures"] == [architecture]
        assert props["Layers"] == [stack.app.ref(stack.layer(layer))]
    assert [name for name in ("SharedLayer", "SharedLayerArm64") if stack.exists(stack.layer(name))] == [layer]
    # The layer's make target (what `sam build` runs) fetches the wheels of that platform.
    dry_run = subprocess.run(["make", "-n", "-C", str(REPO / "src" / "shared"), f"build-{layer}", "ARTIFACTS_DIR=/nonexistent"],
                             capture_output=True, text=True, check=True).stdout
    assert f"--platform manylinux_2_28_{wheels} --platform manylinux2014_{wheels}" in dry_run
    other = "x86_64" if wheels == "aarch64" else "aarch64"
    assert other not in dry_run
