"""Every metric the template's dashboard and alarms read is one the functions really emit.

The custom metrics referenced by template.yaml (dashboard SEARCH expressions, Metrics Insights
alarm queries, plain metric alarms) are compared, by namespace, name and dimension set (and the
dimension values a query filters on), with the EMF blobs real local runs write to the function
logs: the happy path twice (the second replays its loads), a run stopped by the quality gate, and a run whose source is missing.
AWS's own metrics (AWS/Lambda, AWS/States, AWS/SQS) must point at this template's resources.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from etl_local.sam_template import load_yaml
from etl_local.telemetry import emf_metrics, read_lines

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(REPO / "template.yaml")
NAMESPACE = TEMPLATE["Parameters"]["MetricsNamespace"]["Default"]
FUNCTIONS = sorted(lid for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function")

SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<name>\w+)\"'")
SELECT = re.compile(r"SELECT \w+\((?P<name>\w+)\) FROM SCHEMA\((?P<schema>[^)]*)\)(?:\s+WHERE (?P<where>.*))?", re.S)


def _text(value: Any) -> str:
    """A string, or the template of an Fn::Sub (``!Sub text`` or ``!Sub [text, vars]``)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return value


def _query_ref(expression: str) -> tuple[str, str, frozenset[str], dict[str, str]] | None:
    expression = expression.replace("${MetricsNamespace}", NAMESPACE)
    if match := SEARCH.search(expression):
        namespace, *dims = [part.strip() for part in match["schema"].split(",")]
        return namespace, match["name"], frozenset(dims), {}
    if match := SELECT.search(expression):
        namespace, *dims = [part.strip().strip('"') for part in match["schema"].split(",")]
        filters = dict(re.findall(r"(\w+) = '([^']*)'", match["where"] or ""))
        return namespace, match["name"], frozenset(dims), filters
    return None


def references() -> Iterator[tuple[str, tuple]]:
    """(resource, (namespace, name, dimension names, filters or dimension values)) for every metric named."""
    for lid, resource in TEMPLATE["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            if "MetricName" in props:
                yield lid, (props["Namespace"], props["MetricName"], frozenset(d["Name"] for d in props["Dimensions"]),
                            {d["Name"]: d["Value"] for d in props["Dimensions"]})
            for metric in props.get("Metrics", []):
                if "MetricStat" in metric:
                    m = metric["MetricStat"]["Metric"]
                    yield lid, (m["Namespace"], m["MetricName"], frozenset(d["Name"] for d in m["Dimensions"]),
                                {d["Name"]: d["Value"] for d in m["Dimensions"]})
                elif (ref := _query_ref(_text(metric["Expression"]))) is not None:
                    yield lid, ref
        elif resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = _text(props["DashboardBody"]).replace("${MetricsNamespace}", NAMESPACE)
            body = re.sub(r"\$\{ExecutionTimeAlarmMs\}", "0", body)
            for widget in json.loads(body)["widgets"]:
                for metric in widget["properties"].get("metrics", []):
                    if isinstance(metric[0], dict):
                        ref = _query_ref(metric[0]["expression"])
                        assert ref is not None, metric
                        yield lid, ref
                    else:
                        namespace, name, *rest = [m for m in metric if not isinstance(m, dict)]
                        pairs = dict(zip(rest[::2], rest[1::2]))
                        yield lid, (namespace, name, frozenset(pairs), pairs)


def test_the_dashboard_and_alarms_name_every_part_the_issue_asks_for() -> None:
    named = {(ref[0], ref[1]) for _, ref in references()}
    for custom in ("RecordsProcessed", "ProcessingTime", "QuarantinedRecords", "QuarantineRatio", "LoadedRecords", "Failures"):
        assert (NAMESPACE, custom) in named
    for aws in [("AWS/States", m) for m in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut",
                                            "ExecutionTime", "ServiceIntegrationRunTime", "ServiceIntegrationsFailed")] + \
               [("AWS/Lambda", m) for m in ("Errors", "Throttles", "Duration")] + [("AWS/SQS", "ApproximateNumberOfMessagesVisible")]:
        assert aws in named, aws
    lambda_refs = [ref for _, ref in references() if ref[0] == "AWS/Lambda"]
    for metric in ("Errors", "Throttles", "Duration"):  # per function, every function
        functions = {_function(ref[3]["FunctionName"]) for ref in lambda_refs if ref[1] == metric}
        assert functions == set(FUNCTIONS), metric
    alarms = {lid: r["Properties"] for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert all(props["AlarmActions"] == [{"Ref": "NotificationTopic"}] for props in alarms.values())
    definition = json.loads((REPO / "statemachine" / "etl_pipeline.asl.json").read_text())
    near = alarms["ExecutionNearTimeoutAlarm"]["Threshold"]["Fn::If"]
    assert near[2] == 0.8 * definition["TimeoutSeconds"] * 1000 and near[1] == 0.8 * 300 * 1000  # EXPRESS: 5 minutes


def _resolve(value: Any, express: bool, variables: dict[str, Any]) -> Any:
    """``value`` as CloudFormation would deploy it with WorkflowType EXPRESS or STANDARD (If, Sub, Ref)."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        assert condition == "IsExpress", condition
        return _resolve(when_true if express else when_false, express, variables)
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, own = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        names = {**variables, **{k: _resolve(v, express, variables) for k, v in own.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m[1], m[0])), text)
    return value


def test_transform_job_metrics_are_filed_under_the_arns_the_definition_runs() -> None:
    """Step Functions files a service integration's metrics under ``ServiceIntegrationResourceArn`` =
    the definition's Task ``Resource`` with the region and account filled in
    (``arn:aws:states:::glue:startJobRun.sync`` -> ``arn:aws:states:<region>:<account>:glue:startJobRun.sync``;
    AWS documents the dimension as "the resource ARN of the integrated service"; the account- and
    region-qualified form is what deployed stacks show, the bare form returns no datapoints).
    Every such value the dashboard and the alarms name, for either workflow type, is one the
    definition's Glue or EMR Serverless task runs under that workflow type."""
    pseudo = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    machine = TEMPLATE["Resources"]["EtlStateMachine"]["Properties"]
    dashboard = TEMPLATE["Resources"]["PipelineDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for express in (True, False):
        substitutions = {k: _resolve(v, express, pseudo) for k, v in machine["DefinitionSubstitutions"].items()}
        runs = {substitutions[name] for name in ("GlueJobRunResource", "EmrJobRunResource")}
        assert all(arn.startswith("arn:aws:states:::") for arn in runs) and len(runs) == 2
        expected = {arn.replace("arn:aws:states:::", "arn:aws:states:eu-west-1:123456789012:") for arn in runs}
        named: list[str] = []
        for lid, resource in TEMPLATE["Resources"].items():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                for metric in resource["Properties"].get("Metrics", []):
                    for dimension in metric.get("MetricStat", {}).get("Metric", {}).get("Dimensions", []):
                        if dimension["Name"] == "ServiceIntegrationResourceArn":
                            named.append(_resolve(dimension["Value"], express, pseudo))
        body = json.loads(_resolve({"Fn::Sub": dashboard}, express, {**pseudo, "MetricsNamespace": NAMESPACE}))
        for widget in body["widgets"]:
            for metric in widget["properties"].get("metrics", []):
                plain = [m for m in metric if not isinstance(m, (dict,))]
                if "ServiceIntegrationResourceArn" in plain:
                    named.append(plain[plain.index("ServiceIntegrationResourceArn") + 1])
        assert len(named) == 4 + 6, named  # the alarm's Failed/TimedOut x2, the dashboard's run time and Failed/TimedOut x2
        assert set(named) == expected, (express, set(named) ^ expected)


def _function(value: Any) -> str:
    """``!Ref PlanFunction`` (alarms) or ``${PlanFunction}`` (the dashboard's Fn::Sub)."""
    return value["Ref"] if isinstance(value, dict) else value.strip("${}")


@pytest.fixture
def runtime(make_runtime, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    return make_runtime()


def test_every_custom_metric_the_template_reads_is_emitted_by_a_real_run(runtime) -> None:
    runs = [("execution-happy-path.json", "SUCCEEDED"), ("execution-happy-path.json", "SUCCEEDED"),  # the second replays its loads
            ("execution-data-quality-failure.json", "FAILED"), ("execution-failing-source.json", "FAILED")]
    for number, (name, expected) in enumerate(runs):
        result = runtime.run(json.loads((REPO / "events" / name).read_text()), name=f"run-{number}")
        assert result.status == expected, (name, result.error)
    emitted = [m for log in (runtime.home / "logs").glob("*.log") for m in emf_metrics(read_lines(log))]
    kinds = {(m.namespace, m.name, frozenset(m.dimensions)) for m in emitted}

    custom = [(lid, ref) for lid, ref in references() if ref[0] == NAMESPACE]
    assert len(custom) >= 8
    for lid, (namespace, name, dimensions, filters) in custom:
        assert (namespace, name, dimensions) in kinds, f"{lid} reads {name}{sorted(dimensions)}, which no function emits"
        assert any(m.name == name and all(m.dimensions.get(k) == v for k, v in filters.items()) for m in emitted), (lid, filters)
