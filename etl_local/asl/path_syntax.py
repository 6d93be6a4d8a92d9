"""Parser for the Jayway JsonPath dialect AWS accepts in JSONPath-mode fields.

Parsing yields a flat tuple of segments plus the facts evaluation needs up front: the root
(state data, context object or a variable), whether the path is definite (Jayway only reports
"No results" for definite paths) and the bracket form Jayway prints in its messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

ROOT_DATA = "$"
ROOT_CONTEXT = "$$"
ROOT_ITEM = "@"

Segment = tuple[str, Any]
"""(kind, argument): prop name, index int, props names, indexes ints, wildcard, slice
(start, stop, step), filter predicate, deep (the segment applied at every depth)."""

Predicate = Callable[[Any, Any], bool]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_INT = re.compile(r"-?\d+")
_OPERATOR = re.compile(r"==|!=|<=|>=|=~|<|>|(?:nin|in)(?=[ \['\"$@])")
_DOT_NAME_STOP = frozenset(".[( ")
_FILTER_NAME_STOP = frozenset(".[()] =!<>&|,")
_INDEFINITE = frozenset({"props", "indexes", "wildcard", "slice", "filter", "deep"})


class PathSyntaxError(ValueError):
    """The text is not a JSONPath AWS would accept."""


@dataclass(frozen=True)
class ParsedPath:
    root: str
    segments: tuple[Segment, ...]
    function: str | None = None
    definite: bool = field(init=False)
    jayway: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "definite", not any(kind in _INDEFINITE for kind, _ in self.segments))
        object.__setattr__(self, "jayway", self.jayway_prefix(len(self.segments)))

    def jayway_prefix(self, count: int) -> str:
        """The first ``count`` segments in Jayway's bracket notation, e.g. ``$['a'][0]``."""
        head = "$" if self.root in (ROOT_DATA, ROOT_CONTEXT, ROOT_ITEM) else f"${self.root}"
        return head + "".join(_render(segment) for segment in self.segments[:count])


def parse_path(text: str) -> ParsedPath:
    """Parse a whole path; raise PathSyntaxError on anything left over."""
    parser = _Parser(text)
    parsed = parser.path(_DOT_NAME_STOP)
    if parsed.root == ROOT_ITEM:
        raise PathSyntaxError(f"'@' is only allowed inside filters: {text!r}")
    if parser.pos != len(text):
        raise PathSyntaxError(f"unexpected {text[parser.pos]!r} at position {parser.pos} in path {text!r}")
    return parsed


def _render(segment: Segment) -> str:
    kind, arg = segment
    if kind == "prop":
        return f"['{arg}']"
    if kind == "index":
        return f"[{arg}]"
    if kind == "props":
        return "[" + ",".join(f"'{name}'" for name in arg) + "]"
    if kind == "indexes":
        return "[" + ",".join(str(i) for i in arg) + "]"
    if kind == "wildcard":
        return "[*]"
    if kind == "slice":
        start, stop, step = arg
        text = f"{'' if start is None else start}:{'' if stop is None else stop}"
        return f"[{text}{'' if step is None else ':' + str(step)}]"
    if kind == "filter":
        return "[?]"
    return ".." + _render(arg)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- paths -------------------------------------------------------------------------------
    def path(self, name_stop: frozenset[str]) -> ParsedPath:
        root = self.root()
        segments: list[Segment] = []
        function: str | None = None
        while self.pos < len(self.text) and function is None:
            char = self.text[self.pos]
            if self.text.startswith("..", self.pos):
                self.pos += 2
                segments.append(("deep", self.deep_step(name_stop)))
            elif char == ".":
                self.pos += 1
                name = self.dot_name(name_stop)
                if self.peek("("):
                    function = self.function_call(name)
                else:
                    segments.append(name)
            elif char == "[":
                segments.append(self.bracket())
            else:
                break
        return ParsedPath(root, tuple(segments), function)

    def root(self) -> str:
        if self.peek("@"):
            self.pos += 1
            return ROOT_ITEM
        if not self.peek("$"):
            raise PathSyntaxError(f"path {self.text!r} must start with '$'")
        if self.text.startswith("$$", self.pos):
            self.pos += 2
            return ROOT_CONTEXT
        self.pos += 1
        match = _IDENT.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return match.group()
        return ROOT_DATA

    def deep_step(self, name_stop: frozenset[str]) -> Segment:
        if self.peek("["):
            return self.bracket()
        return self.dot_name(name_stop)

    def dot_name(self, stop: frozenset[str]) -> Segment:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        name = self.text[start:self.pos]
        if not name:
            raise PathSyntaxError(f"empty property name at position {start} in path {self.text!r}")
        return ("wildcard", None) if name == "*" else ("prop", name)

    def function_call(self, name: Segment) -> str:
        self.expect("(")
        self.expect(")")
        if name[0] != "prop" or name[1] != "length" or self.pos != len(self.text):
            raise PathSyntaxError(f"unsupported path function in {self.text!r}")
        return name[1]

    def bracket(self) -> Segment:
        self.expect("[")
        self.spaces()
        if self.peek("?"):
            self.pos += 1
            self.spaces()
            self.expect("(")
            predicate = self.or_expr()
            self.spaces()
            self.expect(")")
            segment: Segment = ("filter", predicate)
        elif self.peek("*"):
            self.pos += 1
            segment = ("wildcard", None)
        elif self.peek("'") or self.peek('"'):
            names = [self.quoted()]
            while self.comma():
                names.append(self.quoted())
            segment = ("prop", names[0]) if len(names) == 1 else ("props", tuple(names))
        else:
            segment = self.index_or_slice()
        self.spaces()
        self.expect("]")
        return segment

    def index_or_slice(self) -> Segment:
        first = self.optional_int()
        self.spaces()
        if self.peek(":"):
            self.pos += 1
            stop = self.optional_int()
            step = None
            if self.peek(":"):
                self.pos += 1
                step = self.optional_int()
            if step == 0:
                raise PathSyntaxError(f"slice step 0 in path {self.text!r}")
            return ("slice", (first, stop, step))
        if first is None:
            raise PathSyntaxError(f"bad bracket at position {self.pos} in path {self.text!r}")
        indexes = [first]
        while self.comma():
            value = self.optional_int()
            if value is None:
                raise PathSyntaxError(f"bad index list in path {self.text!r}")
            indexes.append(value)
        return ("index", first) if len(indexes) == 1 else ("indexes", tuple(indexes))

    # -- filter expressions -------------------------------------------------------------------
    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while self.keyword("||"):
            right = self.and_expr()
            left = _either(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.keyword("&&"):
            right = self.unary()
            left = _both(left, right)
        return left

    def unary(self) -> Predicate:
        self.spaces()
        if self.peek("!") and not self.text.startswith("!=", self.pos):
            self.pos += 1
            inner = self.unary()
            return lambda item, root: not inner(item, root)
        if self.peek("("):
            self.pos += 1
            inner = self.or_expr()
            self.spaces()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        left = self.operand()
        self.spaces()
        match = _OPERATOR.match(self.text, self.pos)
        if match is None:
            return lambda item, root: left(item, root) is not _ABSENT
        self.pos = match.end()
        self.spaces()
        op = match.group().strip()
        right = self.regex() if op == "=~" else self.operand()
        return _compare(op, left, right)

    def operand(self) -> Callable[[Any, Any], Any]:
        self.spaces()
        if self.peek("@") or self.peek("$"):
            return _path_operand(self.path(_FILTER_NAME_STOP))
        value = self.literal()
        return lambda item, root: value

    def literal(self) -> Any:
        if self.peek("'") or self.peek('"'):
            return self.quoted()
        if self.peek("["):
            self.pos += 1
            values: list[Any] = []
            self.spaces()
            if not self.peek("]"):
                values.append(self.literal())
                while self.comma():
                    values.append(self.literal())
            self.spaces()
            self.expect("]")
            return values
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise PathSyntaxError(f"bad filter operand at position {self.pos} in path {self.text!r}")
        self.pos = match.end()
        return float(match.group()) if match.group(1) or match.group(2) else int(match.group())

    def regex(self) -> Callable[[Any, Any], Any]:
        self.expect("/")
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] != "/":
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        pattern = self.text[start:self.pos]
        self.expect("/")
        flags = 0
        while self.pos < len(self.text) and self.text[self.pos] in "imsx":
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[self.text[self.pos]]
            self.pos += 1
        compiled = re.compile(pattern, flags)
        return lambda item, root: compiled

    # -- lexical helpers ----------------------------------------------------------------------
    def quoted(self) -> str:
        """A quoted name: a backslash escapes only the quote in use and itself; before any
        other character it is literal (AWS reads ``$['Test\\""Name"']`` as the key ``Test\\""Name"``)."""
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            if self.text[self.pos] == "\\" and self.text[self.pos + 1:self.pos + 2] in (quote, "\\"):
                self.pos += 1
            chars.append(self.text[self.pos])
            self.pos += 1
        self.expect(quote)
        return "".join(chars)

    def optional_int(self) -> int | None:
        self.spaces()
        match = _INT.match(self.text, self.pos)
        if not match:
            return None
        self.pos = match.end()
        return int(match.group())

    def comma(self) -> bool:
        self.spaces()
        if self.peek(","):
            self.pos += 1
            self.spaces()
            return True
        return False

    def keyword(self, word: str) -> bool:
        self.spaces()
        if self.text.startswith(word, self.pos):
            self.pos += len(word)
            return True
        return False

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def peek(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def expect(self, char: str) -> None:
        if not self.peek(char):
            raise PathSyntaxError(f"expected {char!r} at position {self.pos} in path {self.text!r}")
        self.pos += len(char)


# -- filter semantics (Jayway: a type mismatch or a missing operand is simply false) -----------
_ABSENT = object()


def _path_operand(sub: ParsedPath) -> Callable[[Any, Any], Any]:
    """A filter operand: ``@...`` reads the candidate item, ``$...`` the document root."""
    relative = sub.root == ROOT_ITEM

    def value(item: Any, root: Any) -> Any:
        node = item if relative else root
        for kind, arg in sub.segments:
            if kind == "prop" and type(node) is dict and arg in node:
                node = node[arg]
            elif kind == "index" and type(node) is list and -len(node) <= arg < len(node):
                node = node[arg]
            else:
                return _ABSENT
        if sub.function == "length":
            return len(node) if isinstance(node, (list, dict, str)) else _ABSENT
        return node

    if not sub.definite:
        raise PathSyntaxError("filter operands must be definite paths")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_json(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def _ordered(left: Any, right: Any) -> bool:
    return (_is_number(left) and _is_number(right)) or (type(left) is str and type(right) is str)


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _same_json,
    "!=": lambda a, b: not _same_json(a, b),
    "<": lambda a, b: _ordered(a, b) and a < b,
    "<=": lambda a, b: _ordered(a, b) and a <= b,
    ">": lambda a, b: _ordered(a, b) and a > b,
    ">=": lambda a, b: _ordered(a, b) and a >= b,
    "=~": lambda a, b: type(a) is str and b.fullmatch(a) is not None,
    "in": lambda a, b: type(b) is list and any(_same_json(a, x) for x in b),
    "nin": lambda a, b: type(b) is list and not any(_same_json(a, x) for x in b),
}


def _compare(op: str, left: Callable[[Any, Any], Any], right: Callable[[Any, Any], Any]) -> Predicate:
    test = _COMPARATORS[op]

    def predicate(item: Any, root: Any) -> bool:
        a = left(item, root)
        b = right(item, root)
        return a is not _ABSENT and b is not _ABSENT and test(a, b)

    return predicate


def _either(left: Predicate, right: Predicate) -> Predicate:
    return lambda item, root: left(item, root) or right(item, root)


def _both(left: Predicate, right: Predicate) -> Predicate:
    return lambda item, root: left(item, root) and right(item, root)
