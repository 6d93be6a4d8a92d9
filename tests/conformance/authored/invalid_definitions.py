"""Definitions AWS rejects: CreateStateMachine's InvalidDefinition message and
ValidateStateMachineDefinition's diagnostics, word for word (recorded in localstack's
test_sfn_api and test_sfn_api_validation; build_corpus.py copies the recorded texts)."""
from __future__ import annotations

from typing import Any

API = "test_sfn_api.snapshot.json::TestSnfApi::"
VALIDATION = "test_sfn_api_validation.snapshot.json::TestSfnApiValidation::"
PASS = {"Type": "Pass", "End": True}


def invalid(name: str, source: str, record: str, definition: Any) -> dict[str, Any]:
    return {"id": f"invalid_{name}", "invalid": True, "source": source, "record": record, "definition": definition}


CASES = [
    invalid("no_states", API + "test_create_delete_invalid_sm", "invalid_definition_1", {"StartAt": "State_1"}),
    invalid("empty_string", VALIDATION + "test_validate_state_machine_definition_not_a_definition[EMPTY_STRING]",
            "validation_response", ""),
    invalid("empty_object", VALIDATION + "test_validate_state_machine_definition_not_a_definition[EMPTY_DICT]",
            "validation_response", {}),
    invalid("no_start_at", VALIDATION + "test_validate_state_machine_definition_type_standard[INVALID_BASE_NO_STARTAT]",
            "validation_response", {"Comment": "no StartAt", "States": {"StartState": PASS}}),
    invalid("query_language_downgrade_diagnostics",
            VALIDATION + "test_validate_state_machine_definition_type_standard[INVALID_DOWNGRADE_QUERY_LANGUAGE]",
            "validation_response", {"QueryLanguage": "JSONata", "StartAt": "Pass", "States": {
                "Pass": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}),
]
CREDENTIALS = "credentials/test_credentials_base.snapshot.json::TestCredentialsBase::"
for label, credentials in (("EMPTY_CREDENTIALS", {}), ("INVALID_CREDENTIALS_FIELD", {"InvalidField": "invalid"})):
    CASES.append(invalid(f"credentials_{label.lower()}", CREDENTIALS + f"test_invalid_credentials_field[{label}]",
                         "invalid_definition", {"StartAt": "State0", "QueryLanguage": "JSONata", "States": {
                             "State0": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                        "Arguments": "{% $state.input %}", "Credentials": credentials, "End": True}}}))
