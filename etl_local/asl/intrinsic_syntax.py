"""Parser for intrinsic function calls such as ``States.Format('{} x', $.a, States.UUID())``.

The same parser serves run time and definition validation, so a text AWS rejects at
CreateStateMachine (an illegal escape such as ``\\"``, an unknown function, a bad path) is
rejected here with IntrinsicSyntaxError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from etl_local.asl.path_syntax import PathSyntaxError, parse_path

# name -> (minimum, maximum) argument count; None = unbounded.
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_LEGAL_ESCAPES = frozenset("'{}\\")
_WORDS = {"null": None, "true": True, "false": False}


class IntrinsicSyntaxError(ValueError):
    """The text is not an intrinsic function call AWS would accept."""


@dataclass(frozen=True)
class Literal:
    value: object
    raw: str | None = None
    """For string literals, the text between the quotes with its escapes intact: States.Format
    tells an escaped ``\\{`` from a placeholder ``{`` only from this."""


@dataclass(frozen=True)
class PathArg:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Argument", ...]


Argument = Union[Literal, PathArg, Call]


def parse_intrinsic(text: str) -> Call:
    parser = _Parser(text)
    call = parser.call()
    parser.spaces()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"unexpected text after the call at position {parser.pos}: {text!r}")
    return call


def unescape(raw: str) -> str:
    """The value of a string literal: each ``\\x`` becomes ``x``."""
    return re.sub(r"\\(.)", r"\1", raw, flags=re.S)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def call(self) -> Call:
        self.spaces()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise IntrinsicSyntaxError(f"expected a States.* function at position {self.pos}: {self.text!r}")
        name = match.group()
        if name not in ARITY:
            raise IntrinsicSyntaxError(f"unknown intrinsic function {name}")
        self.pos = match.end()
        self.spaces()
        self.expect("(")
        args: list[Argument] = []
        self.spaces()
        if not self.peek(")"):
            args.append(self.argument())
            self.spaces()
            while self.peek(","):
                self.pos += 1
                args.append(self.argument())
                self.spaces()
        self.expect(")")
        low, high = ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            raise IntrinsicSyntaxError(f"{name} does not take {len(args)} argument(s)")
        return Call(name, tuple(args))

    def argument(self) -> Argument:
        self.spaces()
        if self.peek("'"):
            return self.string()
        if self.peek("$"):
            return self.path()
        if self.peek("States."):
            return self.call()
        for word, value in _WORDS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Literal(value)
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise IntrinsicSyntaxError(f"bad argument at position {self.pos}: {self.text!r}")
        self.pos = match.end()
        text = match.group()
        return Literal(float(text) if match.group(1) or match.group(2) else int(text))

    def string(self) -> Literal:
        self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != "'":
            if self.text[self.pos] == "\\":
                if self.pos + 1 >= len(self.text) or self.text[self.pos + 1] not in _LEGAL_ESCAPES:
                    raise IntrinsicSyntaxError(f"illegal escape at position {self.pos}: {self.text!r}")
                self.pos += 1
            self.pos += 1
        raw = self.text[start:self.pos]
        self.expect("'")
        return Literal(unescape(raw), raw)

    def path(self) -> PathArg:
        """A path runs to the next ``,`` or ``)`` outside brackets and quotes."""
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif depth == 0 and char in ",)":
                break
            self.pos += 1
        text = self.text[start:self.pos].rstrip()
        try:
            parse_path(text)
        except PathSyntaxError as error:
            raise IntrinsicSyntaxError(str(error)) from error
        return PathArg(text)

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise IntrinsicSyntaxError(f"expected {token!r} at position {self.pos}: {self.text!r}")
        self.pos += len(token)
