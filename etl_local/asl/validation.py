"""Static checks of a state machine definition, in the spirit of ValidateStateMachineDefinition.

Local runs must reject what CreateStateMachine would reject, otherwise a definition that works
here fails on deploy. Problems use AWS's codes and locations, e.g.
``MISSING_TRANSITION_TARGET: Missing 'Next' target: Y at /States/X/Next``.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from etl_local.asl.choice import OPERATORS, parse_timestamp
from etl_local.asl.intrinsics import is_intrinsic
from etl_local.asl.item_reader import CSV_DELIMITERS, INPUT_TYPES
from etl_local.asl.item_reader import RESOURCES as ITEM_READER_RESOURCES
from etl_local.asl.jsonata_eval import is_jsonata_expression, jsonata_syntax_error
from etl_local.asl.path_syntax import ROOT_DATA, PathSyntaxError, parse_path
from etl_local.asl.result_writer import PUT_OBJECT

__all__ = ["validate_definition"]

JSONPATH = "JSONPath"
JSONATA = "JSONata"
SCHEMA = "SCHEMA_VALIDATION_FAILED"

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath", "Assign", "Output"}
_RESULT = {"Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Arguments"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | {"Next", "End", "Parameters", "ResultPath", "Result"},
    "Task": _COMMON | _IO | _RESULT | {"Next", "End", "Resource", "TimeoutSeconds", "TimeoutSecondsPath",
                                       "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | {"Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | {"InputPath", "OutputPath", "Output"},
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _RESULT | {"Next", "End", "Branches"},
    "Map": _COMMON | _IO | (_RESULT - {"Arguments"}) | {
        "Next", "End", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "ItemReader",
        "ItemBatcher", "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label"},
}
_JSONPATH_ONLY = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath",
                  "SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "TimeoutSecondsPath",
                  "HeartbeatSecondsPath", "MaxConcurrencyPath", "ToleratedFailurePercentagePath",
                  "ToleratedFailureCountPath", "Iterator", "Result"}
_JSONATA_ONLY = {"Arguments", "Output", "Items"}
_TEMPLATES = ("Parameters", "ResultSelector", "ItemSelector", "Assign")
_PATHS = ("InputPath", "OutputPath", "ItemsPath")
_REFERENCE_PATHS = ("SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
                    "MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath")
_TERMINAL = {"Choice", "Succeed", "Fail"}
_WAIT_FIELDS = ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                   "JitterStrategy", "Comment"}
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Assign", "Output", "Comment"}
_DISTRIBUTED_ONLY = ("ItemReader", "ItemBatcher", "ResultWriter")
#: AWS: a variable name is an identifier of at most 80 characters; ``states`` is reserved.
_VARIABLE_NAME = re.compile(r"^[^\W\d]\w{0,79}$")
_RESERVED_VARIABLES = {"states"}


#: State types in the order AWS lists them in its "should have one of these values" message.
_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")


def validate_definition(definition: dict) -> list[str]:
    """Every problem found, [] when AWS would accept the definition."""
    if not isinstance(definition, dict):
        return [f"{SCHEMA}: The definition must be a JSON object at /"]
    language = definition.get("QueryLanguage", JSONPATH)
    problems: list[str] = []
    if language not in (JSONPATH, JSONATA):
        problems.append(f"{SCHEMA}: 'QueryLanguage' must be 'JSONPath' or 'JSONata' at /QueryLanguage")
        language = JSONPATH
    if "TimeoutSeconds" in definition:
        _check_positive_int(definition["TimeoutSeconds"], "/TimeoutSeconds", "TimeoutSeconds", problems)
    _check_machine(definition, "", language, problems)
    return problems


def _check_machine(machine: Any, where: str, language: str, problems: list[str]) -> None:
    """A top-level definition, a Parallel branch or a Map ItemProcessor."""
    if not isinstance(machine, dict):
        problems.append(f"{SCHEMA}: Expected an object with 'StartAt' and 'States' at {where or '/'}")
        return
    states = machine.get("States")
    start = machine.get("StartAt")
    missing = [field for field in ("States", "StartAt") if field not in machine]
    if missing:  # AWS's wording, e.g. "These fields are required: [States, StartAt] at /"
        problems.append(f"{SCHEMA}: These fields are required: [{', '.join(missing)}] at {where or '/'}")
        return
    if not isinstance(states, dict) or not states:
        problems.append(f"{SCHEMA}: 'States' must be a non-empty object at {where}/States")
        return
    if not isinstance(start, str):
        problems.append(f"{SCHEMA}: 'StartAt' is required and must be a string at {where}/StartAt")
    elif start not in states:
        problems.append(f"MISSING_TRANSITION_TARGET: Missing 'StartAt' target: {start} at {where}/StartAt")
    for name, state in states.items():
        _check_state(name, state, f"{where}/States/{name}", states, language, problems)
    if isinstance(start, str) and start in states:
        reached = _reachable(start, states)
        for name in states:
            if name not in reached:
                problems.append(f"UNREACHABLE_STATE: State '{name}' is not reachable at {where}/States/{name}")


def _transitions(state: Any) -> Iterator[str]:
    if not isinstance(state, dict):
        return
    if isinstance(state.get("Next"), str):
        yield state["Next"]
    if isinstance(state.get("Default"), str):
        yield state["Default"]
    for entry in list(_dicts(state.get("Choices"))) + list(_dicts(state.get("Catch"))):
        if isinstance(entry.get("Next"), str):
            yield entry["Next"]


def _reachable(start: str, states: dict[str, Any]) -> set[str]:
    seen = {start}
    pending = [start]
    while pending:
        for target in _transitions(states[pending.pop()]):
            if target in states and target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def _dicts(value: Any) -> Iterator[dict]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _check_state(name: str, state: Any, where: str, states: dict[str, Any], machine_language: str,
                 problems: list[str]) -> None:
    if not isinstance(state, dict):
        problems.append(f"{SCHEMA}: State '{name}' must be an object at {where}")
        return
    kind = state.get("Type")
    if kind not in _FIELDS:
        problems.append(f"{SCHEMA}: The field 'Type' should have one of these values: "
                        f"[{', '.join(_TYPES)}] at {where}/Type")
        return
    language = state.get("QueryLanguage", machine_language)
    if language not in (JSONPATH, JSONATA):
        problems.append(f"{SCHEMA}: 'QueryLanguage' must be 'JSONPath' or 'JSONata' at {where}/QueryLanguage")
        language = machine_language
    elif machine_language == JSONATA and language == JSONPATH:
        problems.append(f"{SCHEMA}: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state "
                        f"machine at {where}")
    for field in state:
        if field not in _FIELDS[kind]:
            problems.append(f"{SCHEMA}: The field '{field}' is not supported by Step Functions at {where}/{field}")
        elif language == JSONATA and field in _JSONPATH_ONLY:
            problems.append(f"{SCHEMA}: The field '{field}' is not supported for the JSONata query language "
                            f"at {where}/{field}")
        elif language == JSONPATH and field in _JSONATA_ONLY:
            problems.append(f"{SCHEMA}: The field '{field}' is only supported for the JSONata query language "
                            f"at {where}/{field}")
    _check_transition(name, kind, state, where, states, problems)
    _check_required(kind, state, where, problems)
    if language == JSONPATH:
        _check_jsonpath_fields(state, where, problems)
    else:
        _check_jsonata_fields(state, where, problems)
    if kind == "Choice":
        _check_choices(state, where, states, language, problems)
    for field, spec in (("Retry", _RETRIER_FIELDS), ("Catch", _CATCHER_FIELDS)):
        if field in state:
            _check_error_handlers(field, state[field], spec, f"{where}/{field}", states, language, problems)
    if kind == "Parallel":
        for index, branch in enumerate(state.get("Branches") or []):
            _check_machine(branch, f"{where}/Branches[{index}]", machine_language, problems)
    if kind == "Map":
        field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        _check_machine(state.get(field), f"{where}/{field}", machine_language, problems)
        _check_distributed_fields(state, where, problems)
    if kind == "Task":
        _check_task_limits(state, where, language, problems)
        credentials = state.get("Credentials")
        if isinstance(credentials, dict) and not {"RoleArn", "RoleArn.$"} & credentials.keys():
            problems.append(f"{SCHEMA}: The field 'RoleArn' is required but was missing at {where}/Credentials")
    if "Assign" in state:
        _check_assign(state["Assign"], f"{where}/Assign", problems)


def _check_transition(name: str, kind: str, state: dict, where: str, states: dict[str, Any],
                      problems: list[str]) -> None:
    if kind in _TERMINAL:
        for field in ("Next", "End"):
            if field in state:
                problems.append(f"{SCHEMA}: The field '{field}' is not supported for {kind} states at {where}/{field}")
        if kind == "Choice" and "Default" in state and state["Default"] not in states:
            problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Default' target: {state['Default']} "
                            f"at {where}/Default")
        return
    has_next, ends = "Next" in state, state.get("End") is True
    if has_next == ends:
        problems.append(f"{SCHEMA}: State '{name}' must have exactly one of 'Next' or 'End': true at {where}")
    if "End" in state and not isinstance(state["End"], bool):
        problems.append(f"{SCHEMA}: 'End' must be a boolean at {where}/End")
    if has_next and state["Next"] not in states:
        problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {state['Next']} at {where}/Next")


def _check_required(kind: str, state: dict, where: str, problems: list[str]) -> None:
    def need(field: str, valid: bool) -> None:
        if not valid:
            problems.append(f"{SCHEMA}: The field '{field}' is required and must be valid at {where}/{field}")

    if kind == "Task":
        need("Resource", isinstance(state.get("Resource"), str))
    elif kind == "Choice":
        need("Choices", isinstance(state.get("Choices"), list) and bool(state["Choices"]))
    elif kind == "Parallel":
        if state.get("Branches") == []:
            problems.append(f"{SCHEMA}: Value cannot be empty at {where}/Branches")
        else:
            need("Branches", isinstance(state.get("Branches"), list))
    elif kind == "Map":
        need("ItemProcessor", ("ItemProcessor" in state) != ("Iterator" in state))
    elif kind == "Wait":
        given = [field for field in _WAIT_FIELDS if field in state]
        if len(given) != 1:
            problems.append(f"{SCHEMA}: A Wait state needs exactly one of {', '.join(_WAIT_FIELDS)} at {where}")
    elif kind == "Fail":
        for literal, path in (("Error", "ErrorPath"), ("Cause", "CausePath")):
            if literal in state and path in state:
                problems.append(f"{SCHEMA}: '{literal}' and '{path}' are mutually exclusive at {where}/{path}")


# -- JSONPath fields ---------------------------------------------------------------------------
def _path_problem(value: Any, *, reference: bool = False) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    try:
        parsed = parse_path(value)
    except PathSyntaxError as error:
        return str(error)
    if reference and not parsed.definite:
        return "must be a Reference Path (no wildcards, slices, filters or deep scans)"
    return None


def _check_jsonpath_fields(state: dict, where: str, problems: list[str]) -> None:
    for field in _PATHS:
        if state.get(field) is not None:
            problem = _path_problem(state[field])
            if problem:
                problems.append(f"{SCHEMA}: The value for the field '{field}' must be a valid JSONPath "
                                f"({problem}) at {where}/{field}")
    for field in _REFERENCE_PATHS:
        if field in state:
            problem = _path_problem(state[field], reference=True)
            if problem:
                problems.append(f"{SCHEMA}: The value for the field '{field}' must be a valid ReferencePath "
                                f"({problem}) at {where}/{field}")
    if "ResultPath" in state:
        _check_result_path(state["ResultPath"], f"{where}/ResultPath", problems)
    for field in ("ErrorPath", "CausePath"):
        if field in state and not _is_path_or_intrinsic(state[field]):
            problems.append(f"{SCHEMA}: The value for the field '{field}' must be a valid JSONPath or a valid "
                            f"intrinsic function call at {where}/{field}")
    for field in _TEMPLATES:
        if field in state:
            _check_template(state[field], f"{where}/{field}", problems)


def _check_result_path(value: Any, where: str, problems: list[str]) -> None:
    if value is None:
        return
    problem = _path_problem(value, reference=True)
    if problem is None and parse_path(value).root != ROOT_DATA:
        problem = "must start with '$'"
    if problem:
        problems.append(f"{SCHEMA}: The value for the field 'ResultPath' must be a valid ReferencePath "
                        f"({problem}) at {where}")


def _is_path_or_intrinsic(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return _path_problem(value) is None if value.startswith("$") else is_intrinsic(value)


def _check_template(template: Any, where: str, problems: list[str]) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not _is_path_or_intrinsic(value):
                    problems.append(f"{SCHEMA}: The value for the field '{key}' must be a valid JSONPath or a "
                                    f"valid intrinsic function call at {where}")
            else:
                _check_template(value, f"{where}/{key}", problems)
    elif isinstance(template, list):
        for index, item in enumerate(template):
            _check_template(item, f"{where}[{index}]", problems)


# -- JSONata fields ----------------------------------------------------------------------------
def _check_jsonata_fields(state: dict, where: str, problems: list[str]) -> None:
    for field, value in state.items():
        if field not in ("Branches", "ItemProcessor", "Choices", "Catch", "Retry"):
            _check_expressions(value, f"{where}/{field}", problems)


def _check_expressions(value: Any, where: str, problems: list[str]) -> None:
    if is_jsonata_expression(value):
        error = jsonata_syntax_error(value[2:-2].strip())
        if error:
            problems.append(f"{SCHEMA}: The JSONata expression '{value[2:-2].strip()}' is not valid: {error} "
                            f"at {where}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_expressions(item, f"{where}/{key}", problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_expressions(item, f"{where}[{index}]", problems)


# -- Choice rules, Retry and Catch -------------------------------------------------------------
def _check_choices(state: dict, where: str, states: dict[str, Any], language: str, problems: list[str]) -> None:
    for index, rule in enumerate(state.get("Choices") or []):
        rule_where = f"{where}/Choices[{index}]"
        if not isinstance(rule, dict):
            problems.append(f"{SCHEMA}: A choice rule must be an object at {rule_where}")
            continue
        if "Next" not in rule:
            problems.append(f"{SCHEMA}: The field 'Next' is required at {rule_where}")
        elif rule["Next"] not in states:
            problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {rule['Next']} at {rule_where}/Next")
        if language == JSONATA:
            if not is_jsonata_expression(rule.get("Condition")) and not isinstance(rule.get("Condition"), bool):
                problems.append(f"{SCHEMA}: A JSONata choice rule needs a 'Condition' at {rule_where}/Condition")
            _check_expressions({k: v for k, v in rule.items() if k != "Next"}, rule_where, problems)
        else:
            for field in ("Output", "Condition"):
                if field in rule:
                    problems.append(f"{SCHEMA}: The field '{field}' is only supported for the JSONata query "
                                    f"language at {rule_where}/{field}")
            _check_rule(rule, rule_where, problems, top=True)
            if "Assign" in rule:
                _check_template(rule["Assign"], f"{rule_where}/Assign", problems)
        if "Assign" in rule:
            _check_assign(rule["Assign"], f"{rule_where}/Assign", problems)


def _check_rule(rule: Any, where: str, problems: list[str], *, top: bool = False) -> None:
    if not isinstance(rule, dict):
        problems.append(f"{SCHEMA}: A choice rule must be an object at {where}")
        return
    if not top and ("Next" in rule or "Assign" in rule):
        problems.append(f"{SCHEMA}: Nested choice rules can not have 'Next' or 'Assign' at {where}")
    for combinator in ("And", "Or"):
        if combinator in rule:
            operands = rule[combinator]
            if not isinstance(operands, list) or not operands:
                problems.append(f"{SCHEMA}: '{combinator}' must be a non-empty array at {where}/{combinator}")
                return
            for index, operand in enumerate(operands):
                _check_rule(operand, f"{where}/{combinator}[{index}]", problems)
            return
    if "Not" in rule:
        _check_rule(rule["Not"], f"{where}/Not", problems)
        return
    operators = [key for key in rule if key in OPERATORS]
    if len(operators) != 1:
        problems.append(f"{SCHEMA}: A choice rule needs exactly one comparison operator at {where}")
        return
    problem = _path_problem(rule.get("Variable"))
    if problem:
        problems.append(f"{SCHEMA}: The field 'Variable' must be a valid JSONPath ({problem}) at {where}/Variable")
    operator = operators[0]
    operand_problem = _operand_problem(operator, rule[operator])
    if operand_problem:
        problems.append(f"{SCHEMA}: The value for '{operator}' {operand_problem} at {where}/{operator}")


def _operand_problem(operator: str, operand: Any) -> str | None:
    if operator.endswith("Path"):
        problem = _path_problem(operand)
        return f"must be a valid JSONPath ({problem})" if problem else None
    if operator.startswith("Is") or operator.startswith("Boolean"):
        return None if isinstance(operand, bool) else "must be a boolean"
    if operator.startswith("Numeric"):
        return None if isinstance(operand, (int, float)) and not isinstance(operand, bool) else "must be a number"
    if operator.startswith("Timestamp"):
        return None if parse_timestamp(operand) is not None else "must be an RFC 3339 timestamp"
    return None if isinstance(operand, str) else "must be a string"


def _check_error_handlers(field: str, handlers: Any, allowed: set[str], where: str, states: dict[str, Any],
                          language: str, problems: list[str]) -> None:
    if not isinstance(handlers, list):
        problems.append(f"{SCHEMA}: '{field}' must be an array at {where}")
        return
    for index, handler in enumerate(handlers):
        at = f"{where}[{index}]"
        if not isinstance(handler, dict):
            problems.append(f"{SCHEMA}: Each '{field}' entry must be an object at {at}")
            continue
        for key in handler:
            if key not in allowed:
                problems.append(f"{SCHEMA}: The field '{key}' is not supported by Step Functions at {at}/{key}")
        errors = handler.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            problems.append(f"{SCHEMA}: 'ErrorEquals' must be a non-empty array of strings at {at}/ErrorEquals")
        elif "States.ALL" in errors and (len(errors) > 1 or index != len(handlers) - 1):
            problems.append(f"{SCHEMA}: 'States.ALL' must appear alone in the last entry of '{field}' "
                            f"at {at}/ErrorEquals")
        if field == "Catch":
            _check_catcher(handler, at, states, language, problems)
            if "Assign" in handler:
                _check_assign(handler["Assign"], f"{at}/Assign", problems)
        else:
            _check_retrier(handler, at, problems)


def _check_catcher(catcher: dict, where: str, states: dict[str, Any], language: str, problems: list[str]) -> None:
    if "Next" not in catcher:
        problems.append(f"{SCHEMA}: The field 'Next' is required at {where}")
    elif catcher["Next"] not in states:
        problems.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {catcher['Next']} at {where}/Next")
    if language == JSONATA:
        if "ResultPath" in catcher:
            problems.append(f"{SCHEMA}: The field 'ResultPath' is not supported for the JSONata query language "
                            f"at {where}/ResultPath")
        _check_expressions({k: v for k, v in catcher.items() if k in ("Assign", "Output")}, where, problems)
        return
    if "Output" in catcher:
        problems.append(f"{SCHEMA}: The field 'Output' is only supported for the JSONata query language "
                        f"at {where}/Output")
    if "ResultPath" in catcher:
        _check_result_path(catcher["ResultPath"], f"{where}/ResultPath", problems)
    if "Assign" in catcher:
        _check_template(catcher["Assign"], f"{where}/Assign", problems)


def _check_retrier(retrier: dict, where: str, problems: list[str]) -> None:
    """The numbers of a Retrier, as AWS types them."""
    def need(field: str, valid: bool, rule: str) -> None:
        if field in retrier and not valid:
            problems.append(f"{SCHEMA}: The field '{field}' must be {rule}, got {retrier[field]!r} at {where}/{field}")

    interval, attempts = retrier.get("IntervalSeconds"), retrier.get("MaxAttempts")
    backoff, max_delay = retrier.get("BackoffRate"), retrier.get("MaxDelaySeconds")
    need("IntervalSeconds", _is_int(interval) and interval >= 1, "an integer >= 1")
    need("MaxAttempts", _is_int(attempts) and attempts >= 0, "an integer >= 0")
    need("BackoffRate", _is_number(backoff) and backoff >= 1.0, "a number >= 1.0")
    need("MaxDelaySeconds", _is_int(max_delay) and max_delay >= 1, "an integer >= 1")
    need("JitterStrategy", retrier.get("JitterStrategy") in ("FULL", "NONE"), "'FULL' or 'NONE'")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_positive_int(value: Any, where: str, field: str, problems: list[str]) -> bool:
    if _is_int(value) and value > 0:
        return True
    problems.append(f"{SCHEMA}: The field '{field}' must be a positive integer, got {value!r} at {where}")
    return False


def _check_task_limits(state: dict, where: str, language: str, problems: list[str]) -> None:
    """TimeoutSeconds/HeartbeatSeconds: positive integers (or JSONata), heartbeat below timeout."""
    literal: dict[str, int] = {}
    for field in ("TimeoutSeconds", "HeartbeatSeconds"):
        if field in state:
            if language == JSONATA and is_jsonata_expression(state[field]):
                continue
            if _check_positive_int(state[field], f"{where}/{field}", field, problems):
                literal[field] = state[field]
        if field in state and field + "Path" in state:
            problems.append(f"{SCHEMA}: '{field}' and '{field}Path' are mutually exclusive at {where}/{field}Path")
    if len(literal) == 2 and literal["HeartbeatSeconds"] >= literal["TimeoutSeconds"]:
        problems.append(f"{SCHEMA}: The field 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds' "
                        f"at {where}/HeartbeatSeconds")


def _check_assign(assign: Any, where: str, problems: list[str]) -> None:
    """Variable names: identifiers (no leading ``$``), at most 80 characters, never ``states``."""
    if not isinstance(assign, dict):
        if not is_jsonata_expression(assign):
            problems.append(f"{SCHEMA}: The field 'Assign' must be an object at {where}")
        return
    for key in assign:
        name = key[:-2] if key.endswith(".$") else key
        if name in _RESERVED_VARIABLES:
            problems.append(f"{SCHEMA}: The variable name '{name}' is reserved at {where}/{key}")
        elif not _VARIABLE_NAME.match(name):
            problems.append(f"{SCHEMA}: The variable name '{name}' is not valid: it must start with a letter or "
                            f"'_' (not '$'), hold only letters, digits and '_', and have at most 80 characters "
                            f"at {where}/{key}")


def _check_distributed_fields(state: dict, where: str, problems: list[str]) -> None:
    """ItemReader, ItemBatcher and ResultWriter: only in DISTRIBUTED mode, with the S3 resources AWS allows."""
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    distributed = isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"
    for field in _DISTRIBUTED_ONLY:
        if field in state and not distributed:
            problems.append(f"{SCHEMA}: The field '{field}' is only supported for a Map state whose "
                            f"ItemProcessor.ProcessorConfig.Mode is DISTRIBUTED at {where}/{field}")
    for field, resources in (("ItemReader", ITEM_READER_RESOURCES), ("ResultWriter", (PUT_OBJECT,))):
        block = state.get(field)
        if field not in state:
            continue
        if not isinstance(block, dict):
            problems.append(f"{SCHEMA}: The field '{field}' must be an object at {where}/{field}")
        elif "Resource" not in block:
            problems.append(f"{SCHEMA}: The field 'Resource' is required in '{field}' at {where}/{field}/Resource")
        elif block["Resource"] not in resources:
            problems.append(f"{SCHEMA}: The {field} resource must be one of {', '.join(resources)}, got "
                            f"{block['Resource']!r} at {where}/{field}/Resource")
    reader = state.get("ItemReader")
    if isinstance(reader, dict):
        _check_reader_config(reader, f"{where}/ItemReader", problems)


def _check_reader_config(reader: dict, where: str, problems: list[str]) -> None:
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, dict):
        problems.append(f"{SCHEMA}: The field 'ReaderConfig' must be an object at {where}/ReaderConfig")
        return
    at = f"{where}/ReaderConfig"
    if reader.get("Resource") == "arn:aws:states:::s3:getObject" and config.get("InputType") not in INPUT_TYPES:
        problems.append(f"{SCHEMA}: The field 'InputType' must be one of {', '.join(INPUT_TYPES)} to read an "
                        f"object with s3:getObject at {at}/InputType")
    if config.get("CSVHeaderLocation", "FIRST_ROW") not in ("FIRST_ROW", "GIVEN"):
        problems.append(f"{SCHEMA}: The field 'CSVHeaderLocation' must be 'FIRST_ROW' or 'GIVEN' "
                        f"at {at}/CSVHeaderLocation")
    headers = config.get("CSVHeaders")
    if config.get("CSVHeaderLocation") == "GIVEN" and not (
            isinstance(headers, list) and headers and all(isinstance(h, str) for h in headers)):
        problems.append(f"{SCHEMA}: 'CSVHeaderLocation' GIVEN needs 'CSVHeaders', a non-empty array of strings "
                        f"at {at}/CSVHeaders")
    if config.get("CSVDelimiter", "COMMA") not in CSV_DELIMITERS:
        problems.append(f"{SCHEMA}: The field 'CSVDelimiter' must be one of {', '.join(CSV_DELIMITERS)} "
                        f"at {at}/CSVDelimiter")
    max_items = config.get("MaxItems", 0)
    if not (_is_int(max_items) and max_items >= 0) and not is_jsonata_expression(max_items):
        problems.append(f"{SCHEMA}: The field 'MaxItems' must be an integer >= 0 at {at}/MaxItems")
