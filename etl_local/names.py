"""Execution names, checked as StartExecution checks them, before one becomes a file name.

The local runtime keeps each execution in ``<home>/executions/<name>.json``: a name with a
``/`` (``etl run --name ../../x``) would otherwise write outside the home folder.
"""
from __future__ import annotations

import re

#: AWS's rule for state machine and execution names: 1-80 characters; no whitespace, brackets,
#: wildcards, control characters or any of ``" # % \\ ^ | ~ ` $ & , ; : /``.
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class InvalidName(ValueError):
    """AWS's ``InvalidName`` error of StartExecution."""


def check_execution_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name
