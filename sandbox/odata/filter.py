"""``$filter`` to parameterised SQL.

Supports ``eq ne gt ge lt le``, ``and or not``, parentheses, the functions ``contains``, ``startswith`` and
``endswith``, and string, number, boolean, ``null``, date, datetime and GUID literals (and FinOps enum literals
such as ``Microsoft.Dynamics.DataEntities.NoYes'Yes'``). Property names are resolved by the caller, so only
known columns reach the SQL text; every literal becomes a ``?`` parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from p2c.sandbox.odata.model import Field, Type, quote_ident

COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
FUNCTIONS = {"contains", "startswith", "endswith"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMlLdDfF]?)
  | (?P<name>[A-Za-z_][\w/]*)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


class FilterError(ValueError):
    """The filter is not valid: unknown syntax, unknown property or a literal of the wrong type."""


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, bool, null, datetime, date, guid
    value: Any


@dataclass(frozen=True)
class Prop:
    name: str


@dataclass(frozen=True)
class Compare:
    op: str
    left: Prop | Literal
    right: Prop | Literal


@dataclass(frozen=True)
class Call:
    name: str
    prop: Prop
    arg: Literal


@dataclass(frozen=True)
class Bool:
    op: str  # and, or
    operands: tuple[Node, ...]  # flat, so a thousand 'or' terms do not nest a thousand deep


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Compare | Call | Bool | Not

Resolver = Callable[[str], Field]


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, m.group()))
    return tokens


def _unquote(raw: str) -> str:
    return raw[1:-1].replace("''", "'")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            want = value or kind or "a token"
            got = tok[1] if tok else "end of input"
            raise FilterError(f"Syntax error: expected {want} but found {got} in '{self.text}'.")
        self.i += 1
        return tok

    def word(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1] in words:
            self.i += 1
            return tok[1]
        return None

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise FilterError(f"Syntax error: unexpected '{self.peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        nodes = [self.and_()]
        while self.word("or"):
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else Bool("or", tuple(nodes))

    def and_(self) -> Node:
        nodes = [self.not_()]
        while self.word("and"):
            nodes.append(self.not_())
        return nodes[0] if len(nodes) == 1 else Bool("and", tuple(nodes))

    def not_(self) -> Node:
        if self.word("not"):
            return Not(self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        tok = self.peek()
        if tok and tok[0] == "lparen":
            self.take("lparen")
            node = self.or_()
            self.take("rparen")
            return node
        if tok and tok[0] == "name" and tok[1] in FUNCTIONS:
            return self.call()
        left = self.operand()
        op = self.word(*COMPARISONS)
        if op is None:
            raise FilterError(f"Syntax error: expected a comparison operator in '{self.text}'.")
        return Compare(op, left, self.operand())

    def call(self) -> Call:
        name = self.take("name")[1]
        self.take("lparen")
        prop = self.operand()
        self.take("comma")
        arg = self.operand()
        self.take("rparen")
        if not isinstance(prop, Prop) or not isinstance(arg, Literal) or arg.kind != "string":
            raise FilterError(f"{name}() takes a property and a string literal.")
        return Call(name, prop, arg)

    def operand(self) -> Prop | Literal:
        kind, raw = self.take()
        if kind == "string":
            return Literal("string", _unquote(raw))
        if kind == "enum":
            return Literal("enum", (raw[: raw.index("'")], _unquote(raw[raw.index("'") :])))
        if kind == "number":
            digits = raw.rstrip("mMlLdDfF")
            is_int = re.fullmatch(r"-?\d+", digits) is not None
            return Literal("number", int(digits) if is_int else float(digits))
        if kind == "datetime":
            return Literal("datetime", raw)
        if kind == "date":
            return Literal("date", raw)
        if kind == "guid":
            return Literal("guid", raw.lower())
        if kind == "name":
            if raw in ("true", "false"):
                return Literal("bool", raw == "true")
            if raw == "null":
                return Literal("null", None)
            return Prop(raw)
        raise FilterError(f"Syntax error: unexpected '{raw}' in '{self.text}'.")


def parse(text: str) -> Node:
    return _Parser(text).parse()


def normalize_datetime(text: str) -> str:
    """Any ISO 8601 date-time -> ``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC, the stored form."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"'{text}' is not a valid date-time.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _enum(field: Field, lit: Literal) -> str:
    """An enum property compares with an enum literal of its own type and a member of it, nothing else."""
    type_name, member = lit.value if lit.kind == "enum" else ("", "")
    if lit.kind != "enum" or type_name != field.enum:
        raise FilterError(
            f"A binary operator with incompatible types was detected. Found operand types "
            f"'{field.enum}' and '{type_name or 'Edm.' + lit.kind.capitalize()}' for property '{field.name}'."
        )
    if member not in {m for m, _ in field.members}:
        raise FilterError(f"The string '{member}' is not a valid enumerated type constant of '{field.enum}'.")
    return str(member)


def coerce(field: Field, lit: Literal, *, strict_dates: bool = False) -> Any:
    """The SQL parameter for ``lit`` compared with ``field``; raises FilterError on a type mismatch.

    ``strict_dates``: a ``DateTimeOffset`` property compares with a date-time literal only, not a bare date.
    """
    if field.enum:
        return _enum(field, lit)
    t = field.type
    ok: dict[Type, tuple[str, ...]] = {
        Type.STRING: ("string",),
        Type.INT: ("number",),
        Type.BIGINT: ("number",),
        Type.DECIMAL: ("number",),
        Type.BOOL: ("bool",),
        Type.DATETIME: ("datetime",) if strict_dates else ("datetime", "date"),
        Type.DATE: ("date",),
        Type.GUID: ("guid", "string"),
    }
    if lit.kind not in ok[t]:
        raise FilterError(
            f"A binary operator with incompatible types was detected. Found operand types "
            f"'{t.value}' and '{lit.kind}' for property '{field.name}'."
        )
    if t in (Type.INT, Type.BIGINT) and not isinstance(lit.value, int):
        raise FilterError(f"Property '{field.name}' is an integer; '{lit.value}' is not.")
    if t is Type.BOOL:
        return 1 if lit.value else 0
    if t is Type.DATETIME:
        return normalize_datetime(lit.value if lit.kind == "datetime" else lit.value + "T00:00:00Z")
    if t is Type.GUID:
        return str(lit.value).lower()
    return lit.value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlBuilder:
    """Turns a parsed filter into a SQL condition and its parameters."""

    def __init__(self, resolve: Resolver, *, wildcards: bool = False, strict_dates: bool = False) -> None:
        self.resolve = resolve
        self.wildcards = wildcards  # FinOps: eq '*text*' is a LIKE
        self.strict_dates = strict_dates

    def build(self, node: Node) -> tuple[str, list[Any]]:
        params: list[Any] = []
        return self._node(node, params), params

    def _node(self, node: Node, params: list[Any]) -> str:
        if isinstance(node, Bool):
            return _balanced([self._node(n, params) for n in node.operands], node.op.upper())
        if isinstance(node, Not):
            return f"(NOT {self._node(node.operand, params)})"
        if isinstance(node, Call):
            return self._call(node, params)
        return self._compare(node, params)

    def _call(self, node: Call, params: list[Any]) -> str:
        field = self.resolve(node.prop.name)
        if field.type is not Type.STRING or field.enum:
            raise FilterError(f"{node.name}() needs a string property; '{field.name}' is {field.type.value}.")
        text = _escape_like(node.arg.value)
        pattern = {"contains": f"%{text}%", "startswith": f"{text}%", "endswith": f"%{text}"}[node.name]
        params.append(pattern)
        return f"({quote_ident(field.name)} LIKE ? ESCAPE '\\')"

    def _compare(self, node: Compare, params: list[Any]) -> str:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, Literal) and isinstance(right, Prop):
            flipped = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
            left, right, op = right, left, flipped.get(op, op)
        if isinstance(left, Literal):
            raise FilterError("A comparison needs at least one property.")
        field = self.resolve(left.name)
        column = quote_ident(field.name)
        if isinstance(right, Prop):
            other = self.resolve(right.name)
            return f"({column} {COMPARISONS[op]} {quote_ident(other.name)})"
        if right.kind == "null":
            if op not in ("eq", "ne"):
                raise FilterError(f"null can only be compared with eq or ne ('{field.name}').")
            return f"({column} IS {'NOT ' if op == 'ne' else ''}NULL)"
        value = coerce(field, right, strict_dates=self.strict_dates)
        if self.wildcards and field.type is Type.STRING and not field.enum and op in ("eq", "ne") and "*" in value:
            params.append(_escape_like(value).replace("*", "%"))
            return f"({'NOT ' if op == 'ne' else ''}{column} LIKE ? ESCAPE '\\')"
        params.append(value)
        if op == "ne":
            # OData: null ne 'x' is true, SQL's NULL <> 'x' is not.
            return f"({column} IS NOT ?)"
        return f"({column} {COMPARISONS[op]} ?)"


def _balanced(parts: list[str], op: str) -> str:
    """``a OP b OP c ...`` nested as a balanced tree: SQLite allows expressions at most 1000 deep."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return f"({_balanced(parts[:mid], op)} {op} {_balanced(parts[mid:], op)})"


def to_sql(
    text: str, resolve: Resolver, *, wildcards: bool = False, strict_dates: bool = False
) -> tuple[str, list[Any]]:
    """``$filter`` text -> (SQL condition, parameters)."""
    return SqlBuilder(resolve, wildcards=wildcards, strict_dates=strict_dates).build(parse(text))
