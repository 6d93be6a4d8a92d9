"""Reading template.yaml the way CloudFormation would, enough to run the app locally.

The local runtime must execute what the template declares, not a copy of it: the
functions (code, handler, environment, layers), the state machine (definition file and
its DefinitionSubstitutions) and the Glue job. Intrinsic functions are resolved against
parameter defaults and deterministic local names/ARNs for every resource.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": "sfn-etl-local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class TemplateError(Exception):
    """The template cannot be understood locally; the message names the resource and field."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns short-form tags (!Ref, !Sub, ...) into their long form."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506  # nosec B506 - a SafeLoader subclass (adds only CloudFormation's short tags)


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    code_uri: Path
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    layer_dirs: list[Path]
    #: Where `sam build` puts the function and its layers (``.aws-sam/build/<LogicalId>``).
    build_dir: Path | None = None
    layer_build_dirs: list[Path] = field(default_factory=list)
    #: ReservedConcurrentExecutions: at most this many environments at once (None: unreserved).
    reserved_concurrency: int | None = None
    #: LoggingConfig: ``Text`` (Lambda's default) or ``JSON`` system logs, and with JSON the
    #: SystemLogLevel that filters them (``DEBUG``, ``INFO`` (the default) or ``WARN``).
    log_format: str = "Text"
    system_log_level: str = "INFO"

    @property
    def arn(self) -> str:
        return function_arn(self.logical_id)


@dataclass(frozen=True)
class StateMachineDef:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, str]
    type: str

    @property
    def arn(self) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.logical_id}"

    def definition_text(self) -> str:
        """The definition with ${Name} substitutions filled, as CloudFormation does at deploy."""
        text = self.definition_path.read_text()

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.substitutions:
                raise TemplateError(f"{self.definition_path}: ${{{name}}} has no DefinitionSubstitutions entry in {self.logical_id}")
            return str(self.substitutions[name])

        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", substitute, text)


@dataclass(frozen=True)
class GlueJobDef:
    logical_id: str
    name: str
    script: Path
    default_arguments: dict[str, str]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


_REF_BY_TYPE = {
    "AWS::SQS::Queue": lambda lid: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{lid}",
    "AWS::SNS::Topic": lambda lid: f"arn:aws:sns:{REGION}:{ACCOUNT}:{lid}",
    "AWS::Serverless::StateMachine": lambda lid: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{lid}",
    "AWS::Serverless::LayerVersion": lambda lid: f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{lid}:1",
}
_ARN_BY_TYPE = {
    "AWS::Serverless::Function": function_arn,
    "AWS::SQS::Queue": lambda lid: f"arn:aws:sqs:{REGION}:{ACCOUNT}:{lid}",
    "AWS::SNS::Topic": lambda lid: f"arn:aws:sns:{REGION}:{ACCOUNT}:{lid}",
    "AWS::S3::Bucket": lambda lid: f"arn:aws:s3:::{lid.lower()}",
    "AWS::DynamoDB::Table": lambda lid: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{lid}",
    "AWS::IAM::Role": lambda lid: f"arn:aws:iam::{ACCOUNT}:role/{lid}",
    "AWS::Logs::LogGroup": lambda lid: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{lid}:*",
}


_ATTRIBUTES = {
    ("AWS::SQS::Queue", "QueueName"): lambda lid: lid,
    ("AWS::SQS::Queue", "QueueUrl"): _REF_BY_TYPE["AWS::SQS::Queue"],
    ("AWS::SNS::Topic", "TopicName"): lambda lid: lid,
    ("AWS::SNS::Topic", "TopicArn"): _REF_BY_TYPE["AWS::SNS::Topic"],
    ("AWS::EMRServerless::Application", "ApplicationId"): lambda lid: lid,
    ("AWS::EMRServerless::Application", "Arn"): lambda lid: f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{lid}",
    ("AWS::KMS::Key", "Arn"): lambda lid: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{lid}",
    ("AWS::KMS::Key", "KeyId"): lambda lid: lid,
    ("AWS::S3::Bucket", "DomainName"): lambda lid: f"{lid.lower()}.s3.amazonaws.com",
    ("AWS::DynamoDB::Table", "StreamArn"): lambda lid: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{lid}/stream/local",
    ("AWS::Serverless::StateMachine", "Name"): lambda lid: lid,
    ("AWS::StepFunctions::StateMachine", "Name"): lambda lid: lid,
    ("AWS::IAM::Role", "RoleId"): lambda lid: lid,
}


def _parameter_value(spec: dict[str, Any], value: Any) -> Any:
    """A parameter as CloudFormation gives it to Ref: list types are lists (``""`` is an empty list)."""
    kind = str(spec.get("Type", "String"))
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",")] if str(value) else []
    return value


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge key by key (the resource wins), lists are the global items then
    the resource's, anything else (strings, numbers, intrinsic functions) is the resource's."""
    if isinstance(global_value, dict) and isinstance(local_value, dict) \
            and not _is_intrinsic(global_value) and not _is_intrinsic(local_value):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


class SamApp:
    """A parsed template with its intrinsic functions resolvable for local use."""

    def __init__(self, template_path: Path, parameter_overrides: dict[str, str] | None = None) -> None:
        self.path = template_path.resolve()
        self.root = self.path.parent
        self.build_root = self.root / ".aws-sam" / "build"
        self.template = load_yaml(self.path)
        self.resources: dict[str, dict] = self.template.get("Resources", {})
        self.globals: dict = self.template.get("Globals", {})
        params = self.template.get("Parameters", {})
        self.parameters = {name: _parameter_value(spec, (parameter_overrides or {}).get(name, spec.get("Default", "")))
                           for name, spec in params.items()}
        self._condition_expressions: dict[str, Any] = self.template.get("Conditions", {})
        self.conditions: dict[str, bool] = {}
        for name in self._condition_expressions:
            self._condition(name, "Conditions")

    # --- intrinsic functions -------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            return self.parameters[name]
        function, _, alias = name.partition(".")
        if alias == "Alias" and self.resources.get(function, {}).get("Type") == "AWS::Serverless::Function":
            # SAM's reference to the alias AutoPublishAlias creates: the function's qualified ARN.
            props = self.function_properties(function)
            if "AutoPublishAlias" not in props:
                raise TemplateError(f"{self.path.name}: {name} needs AutoPublishAlias on {function}")
            return f"{function_arn(function)}:{self.resolve(props['AutoPublishAlias'])}"
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"{self.path.name}: Ref to unknown name {name!r}")
        return _REF_BY_TYPE.get(resource["Type"], lambda lid: lid)(name)

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"{self.path.name}: Fn::GetAtt {name}.{attribute}: no resource {name!r} in the template")
        kind = resource.get("Type", "")
        if attribute == "Arn" and kind in _ARN_BY_TYPE:
            return _ARN_BY_TYPE[kind](name)
        value = _ATTRIBUTES.get((kind, attribute))
        if value is None:
            raise TemplateError(f"{self.path.name}: Fn::GetAtt {name}.{attribute}: the local runtime knows no "
                                f"attribute {attribute!r} of {kind} (resource {name})")
        return value(name)

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token and token.split(".", 1)[0] in self.resources:
                return str(self.get_att(*token.split(".", 1)))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions inside ``value`` (recursively)."""
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1)))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, variables)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
            if key == "Fn::If":
                return self.resolve(arg[1] if self._condition(arg[0], "Fn::If") else arg[2])
            if key == "Fn::Equals":
                left, right = self.resolve(arg[0]), self.resolve(arg[1])
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self._condition(arg, "Condition")
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not None}  # AWS::NoValue removes the property

    # --- resources ------------------------------------------------------------------------
    def _of_type(self, type_name: str) -> dict[str, dict]:
        """The resources of a type that exist: a resource whose Condition is false is not created."""
        found = {}
        for lid, resource in self.resources.items():
            if resource.get("Type") != type_name:
                continue
            condition = resource.get("Condition")
            if condition is not None and not self._condition(condition, f"{lid}.Condition"):
                continue
            found[lid] = resource
        return found

    def _condition(self, name: str, where: str) -> bool:
        """A condition's value, evaluated on first use (conditions may refer to other conditions)."""
        if name not in self._condition_expressions:
            raise TemplateError(f"{self.path.name}: {where}: no condition {name!r} in Conditions")
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self._condition_expressions[name]))
        return self.conditions[name]

    def function_properties(self, lid: str) -> dict[str, Any]:
        """A function's properties with Globals.Function merged in as SAM merges them."""
        return merge_globals(self.globals.get("Function", {}), self.resources[lid].get("Properties", {}))

    def functions(self) -> dict[str, FunctionDef]:
        found = {}
        for lid in self._of_type("AWS::Serverless::Function"):
            props = self.function_properties(lid)
            env = self.resolve(props.get("Environment", {}).get("Variables", {}))
            layers, layer_builds = [], []
            for layer in props.get("Layers", []):
                if isinstance(layer, dict) and "Fn::If" in layer:  # e.g. one layer per architecture
                    condition, when_true, when_false = layer["Fn::If"]
                    layer = when_true if self.conditions[condition] else when_false
                if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in self.resources:
                    content = self.resources[layer["Ref"]].get("Properties", {}).get("ContentUri")
                    if content:
                        layers.append(self.root / content)
                        layer_builds.append(self.build_root / layer["Ref"])
            if "CodeUri" not in props or "Handler" not in props:
                raise TemplateError(f"{self.path.name}: {lid} needs CodeUri and Handler to run locally")
            log_format, system_log_level = self._logging_config(lid, props)
            found[lid] = FunctionDef(
                logical_id=lid,
                code_uri=self.root / self.resolve(props["CodeUri"]),
                handler=self.resolve(props["Handler"]),
                runtime=self.resolve(props.get("Runtime", "python3.12")),
                timeout=int(self.resolve(props.get("Timeout", 3))),
                memory_size=int(self.resolve(props.get("MemorySize", 128))),
                environment={k: "" if v is None else str(v) for k, v in env.items()},
                layer_dirs=layers,
                build_dir=self.build_root / lid,
                layer_build_dirs=layer_builds,
                reserved_concurrency=(None if props.get("ReservedConcurrentExecutions") is None
                                      else int(self.resolve(props["ReservedConcurrentExecutions"]))),
                log_format=log_format,
                system_log_level=system_log_level,
            )
        return found

    def _logging_config(self, lid: str, props: dict[str, Any]) -> tuple[str, str]:
        """A function's ``LoggingConfig``: its LogFormat and SystemLogLevel, checked as Lambda checks them."""
        logging = self.resolve(props.get("LoggingConfig") or {})
        log_format = str(logging.get("LogFormat", "Text"))
        level = str(logging.get("SystemLogLevel", "INFO"))
        if log_format not in ("Text", "JSON"):
            raise TemplateError(f"{self.path.name}: {lid}: LoggingConfig.LogFormat must be Text or JSON, not {log_format!r}")
        if level not in ("DEBUG", "INFO", "WARN"):
            raise TemplateError(f"{self.path.name}: {lid}: LoggingConfig.SystemLogLevel must be DEBUG, INFO or WARN, "
                                f"not {level!r}")
        return log_format, level

    def state_machines(self) -> dict[str, StateMachineDef]:
        found = {}
        for lid, resource in self._of_type("AWS::Serverless::StateMachine").items():
            props = resource.get("Properties", {})
            if "DefinitionUri" not in props:
                raise TemplateError(f"{self.path.name}: {lid} must use DefinitionUri to run locally")
            found[lid] = StateMachineDef(
                logical_id=lid,
                definition_path=self.root / self.resolve(props["DefinitionUri"]),
                substitutions={k: self.resolve(v) for k, v in props.get("DefinitionSubstitutions", {}).items()},
                type=self.resolve(props.get("Type", "STANDARD")),
            )
        return found

    def glue_jobs(self) -> dict[str, GlueJobDef]:
        found = {}
        for lid, resource in self._of_type("AWS::Glue::Job").items():
            props = resource.get("Properties", {})
            script = self.resolve(props.get("Command", {}).get("ScriptLocation", ""))
            found[self.ref(lid)] = GlueJobDef(
                logical_id=lid,
                name=self.ref(lid),
                script=self.root / script,
                default_arguments={k: str(v) for k, v in self.resolve(props.get("DefaultArguments", {})).items()},
            )
        return found


@dataclass
class LocalEnv:
    """SAM's ``--env-vars`` file: ``Parameters`` for every function, ``<LogicalId>`` for one."""

    parameters: dict[str, str] = field(default_factory=dict)
    per_function: dict[str, dict[str, str]] = field(default_factory=dict)

    def for_function(self, logical_id: str) -> dict[str, str]:
        return {**self.parameters, **self.per_function.get(logical_id, {})}
