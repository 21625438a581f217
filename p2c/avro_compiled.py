"""Avro readers and writers compiled to Python for one parsed schema; fastavro stays the reference.

fastavro interprets a schema at every value: per field a dict lookup, an options lookup and, in a union, a
validation of the value against each branch. On p2c's records that is ~0.5 us a field whatever the value
(a ``CustomerWrite`` of 44 fields, all None, took 22 us to encode). The code generated here does one type
check and the bytes per field: 3-5x cheaper to encode, ~1.5x to decode (``bench/bench_avro.py`` prints
both, per value).

Only what the compiled code is sure of goes through it. A schema with anything it does not compile (float,
double, map, fixed, a union other than null and one type) gets no compiled code (None). A value it does not
expect (a type other than the exact Python type of the field, a key missing without a default, an int out
of range) or bytes it cannot read cleanly (truncated, an index out of range, a long varint) raise
:class:`NotCompiled`: the caller then asks fastavro, which gives its own answer or its own error. So the
bytes and values are fastavro's, which ``tests/unit/p2c/test_avro_compiled.py`` checks on every shipped schema
with random values and random bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from fastavro._logical_readers import LOGICAL_READERS
from fastavro._logical_writers import LOGICAL_WRITERS

log = logging.getLogger("p2c.avro")


class Writer(Protocol):
    def __call__(self, value: Any, prefix: bytes = b"") -> bytes:
        """``prefix`` and then the value's Avro bytes."""


class Reader(Protocol):
    def __call__(self, data: bytes, pos: int = 0) -> Any:
        """The value whose Avro bytes start at ``pos`` in ``data``."""


PRIMITIVES = {"null", "boolean", "int", "long", "bytes", "string"}
LIMITS = {"int": 2**31, "long": 2**63}


class NotCompiled(Exception):
    """The compiled code is not sure of this value or these bytes: ask fastavro."""


class Unsupported(Exception):
    """The schema uses something this module does not compile."""


def write_long(out: bytearray, n: int) -> None:
    """A zigzag varint."""
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def read_long_at(data: bytes, pos: int) -> tuple[int, int]:
    """The zigzag varint at ``pos`` and the position after it; more than 10 bytes: NotCompiled."""
    shift = n = 0
    while shift < 64:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
    raise NotCompiled("a varint of more than 10 bytes")


class _Source:
    """Python source being generated, with the constants it refers to. :meth:`value` walks a schema; the
    writer's and the reader's subclasses say what each kind of type becomes."""

    def __init__(self, parsed: Any) -> None:
        self.named: dict[str, Any] = parsed.get("__named_schemas", {}) if isinstance(parsed, dict) else {}
        self.constants: dict[str, Any] = {
            "NotCompiled": NotCompiled,
            "write_long": write_long,
            "read_long_at": read_long_at,
        }
        self.functions: dict[str, list[str]] = {}
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}{self._count}"

    def constant(self, value: Any, hint: str) -> str:
        name = self.name(f"_{hint}")
        self.constants[name] = value
        return name

    def build(self, top: str) -> Callable[..., Any]:
        namespace = dict(self.constants)
        text = "\n\n".join("\n".join(lines) for lines in self.functions.values())
        exec(compile(text, "<p2c.avro_compiled>", "exec"), namespace)  # the code generated above
        built: Callable[..., Any] = namespace[top]
        return built

    def value(self, schema: Any, v: str, depth: int) -> list[str]:
        """Lines, indented ``depth`` levels, that write the variable ``v`` or read into it."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            if schema not in self.named:
                raise Unsupported(f"type {schema}")
            schema = self.named[schema]
        pad = "    " * depth
        if isinstance(schema, list):
            return self.union(schema, *_nullable(schema), v, depth)
        if not isinstance(schema, dict):
            return self.primitive(schema, v, pad)
        kind, logical = schema["type"], schema.get("logicalType")
        if logical is not None:
            return self.logical(schema, f"{kind}-{logical}", v, depth)
        if kind == "record":
            return self.record_value(schema, v, pad)
        if kind == "enum":
            return self.enum(schema["symbols"], v, pad)
        if kind == "array":
            return self.array(schema["items"], v, depth)
        if kind in PRIMITIVES:
            return self.primitive(kind, v, pad)
        raise Unsupported(f"type {kind}")

    def record(self, schema: dict[str, Any]) -> str:
        raise NotImplementedError

    def union(self, schema: list[Any], null: int, other: int, v: str, depth: int) -> list[str]:
        raise NotImplementedError

    def logical(self, schema: dict[str, Any], logical: str, v: str, depth: int) -> list[str]:
        raise NotImplementedError

    def record_value(self, schema: dict[str, Any], v: str, pad: str) -> list[str]:
        raise NotImplementedError

    def enum(self, symbols: list[str], v: str, pad: str) -> list[str]:
        raise NotImplementedError

    def array(self, items: Any, v: str, depth: int) -> list[str]:
        raise NotImplementedError

    def primitive(self, schema: str, v: str, pad: str) -> list[str]:
        raise NotImplementedError


def _nullable(schema: list[Any]) -> tuple[int, int]:
    """(index of null, index of the other branch) of a two-branch union with null."""
    if len(schema) != 2 or schema.count("null") != 1:
        raise Unsupported(f"union {schema}")
    null = schema.index("null")
    return null, 1 - null


class _WriterSource(_Source):
    def record(self, schema: dict[str, Any]) -> str:
        fn = f"write_{schema['name'].replace('.', '_')}"
        if fn in self.functions:
            return fn
        lines = self.functions[fn] = [f"def {fn}(out, d):"]  # claimed before the fields: recursive types
        for field in schema["fields"]:
            v = self.name("v")
            default = field.get("default")
            fallback = "None" if default is None else self.constant(default, "default")
            lines.append(f"    {v} = d.get({field['name']!r}, {fallback})")
            lines.extend(self.value(field["type"], v, 1))
        return fn

    def union(self, schema: list[Any], null: int, other: int, v: str, depth: int) -> list[str]:
        pad = "    " * depth
        return [
            f"{pad}if {v} is None:",
            f"{pad}    out.append({null * 2})",
            f"{pad}else:",
            f"{pad}    out.append({other * 2})",
            *self.value(schema[other], v, depth + 1),
        ]

    def logical(self, schema: dict[str, Any], logical: str, v: str, depth: int) -> list[str]:
        prepare = LOGICAL_WRITERS.get(logical)
        lines = []
        if prepare is not None:
            call = f"{self.constant(prepare, 'prepare')}({v}, {self.constant(schema, 'schema')})"
            lines.append(f"{'    ' * depth}{v} = {call}")
        return lines + self.value(schema["type"], v, depth)

    def record_value(self, schema: dict[str, Any], v: str, pad: str) -> list[str]:
        return [f"{pad}if type({v}) is not dict: raise NotCompiled", f"{pad}{self.record(schema)}(out, {v})"]

    def enum(self, symbols: list[str], v: str, pad: str) -> list[str]:
        index = self.constant({s: i for i, s in enumerate(symbols)}, "symbols")
        return [f"{pad}write_long(out, {index}[{v}])"]

    def array(self, items: Any, v: str, depth: int) -> list[str]:
        pad, item = "    " * depth, self.name("item")
        return [
            f"{pad}if type({v}) is not list: raise NotCompiled",
            f"{pad}if {v}:",
            f"{pad}    write_long(out, len({v}))",
            f"{pad}    for {item} in {v}:",
            *self.value(items, item, depth + 2),
            f"{pad}out.append(0)",
        ]

    def primitive(self, schema: str, v: str, pad: str) -> list[str]:
        if schema == "string":
            b = self.name("b")
            return [
                f"{pad}if type({v}) is not str: raise NotCompiled",
                f"{pad}{b} = {v}.encode()",
                f"{pad}if len({b}) < 64: out.append(len({b}) << 1)",
                f"{pad}else: write_long(out, len({b}))",
                f"{pad}out += {b}",
            ]
        if schema == "bytes":
            return [
                f"{pad}if type({v}) is not bytes: raise NotCompiled",
                f"{pad}write_long(out, len({v}))",
                f"{pad}out += {v}",
            ]
        if schema in LIMITS:
            limit = LIMITS[schema]
            return [
                f"{pad}if type({v}) is not int or not -{limit} <= {v} < {limit}: raise NotCompiled",
                f"{pad}write_long(out, {v})",
            ]
        if schema == "boolean":
            return [f"{pad}if type({v}) is not bool: raise NotCompiled", f"{pad}out.append(1 if {v} else 0)"]
        if schema == "null":
            return [f"{pad}if {v} is not None: raise NotCompiled"]
        raise Unsupported(f"type {schema}")


class _ReaderSource(_Source):
    def record(self, schema: dict[str, Any]) -> str:
        fn = f"read_{schema['name'].replace('.', '_')}"
        if fn in self.functions:
            return fn
        lines = self.functions[fn] = [f"def {fn}(b, pos):"]
        fields = []
        for field in schema["fields"]:
            v = self.name("v")
            fields.append(f"{field['name']!r}: {v}")
            lines.extend(self.value(field["type"], v, 1))
        lines.append(f"    return {{{', '.join(fields)}}}, pos")
        return fn

    @staticmethod
    def long(target: str, pad: str) -> list[str]:
        """Read a varint into ``target``: one byte inline, longer ones by read_long_at."""
        return [
            f"{pad}{target} = b[pos]",
            f"{pad}if {target} < 0x80:",
            f"{pad}    pos += 1",
            f"{pad}    {target} = ({target} >> 1) ^ -({target} & 1)",
            f"{pad}else:",
            f"{pad}    {target}, pos = read_long_at(b, pos)",
        ]

    def union(self, schema: list[Any], null: int, other: int, v: str, depth: int) -> list[str]:
        pad, index = "    " * depth, self.name("index")
        return [
            *self.long(index, pad),
            f"{pad}if {index} == {null}:",
            f"{pad}    {v} = None",
            f"{pad}elif {index} == {other}:",
            *self.value(schema[other], v, depth + 1),
            f"{pad}else:",
            f"{pad}    raise NotCompiled",
        ]

    def logical(self, schema: dict[str, Any], logical: str, v: str, depth: int) -> list[str]:
        lines = self.value(schema["type"], v, depth)
        convert = LOGICAL_READERS.get(logical)
        if convert is not None:
            call = f"{self.constant(convert, 'convert')}({v}, {self.constant(schema, 'schema')}, None)"
            lines.append(f"{'    ' * depth}{v} = {call}")
        return lines

    def record_value(self, schema: dict[str, Any], v: str, pad: str) -> list[str]:
        return [f"{pad}{v}, pos = {self.record(schema)}(b, pos)"]

    def enum(self, symbols: list[str], v: str, pad: str) -> list[str]:
        index = self.name("index")
        return [
            *self.long(index, pad),
            f"{pad}if not 0 <= {index} < {len(symbols)}: raise NotCompiled",
            f"{pad}{v} = {self.constant(list(symbols), 'symbols')}[{index}]",
        ]

    def array(self, items: Any, v: str, depth: int) -> list[str]:
        pad, count, item = "    " * depth, self.name("count"), self.name("item")
        return [
            f"{pad}{v} = []",
            *self.long(count, pad),
            f"{pad}while {count}:",
            f"{pad}    if {count} < 0: raise NotCompiled",  # a block with its size: rare, fastavro's
            f"{pad}    for _ in range({count}):",
            *self.value(items, item, depth + 2),
            f"{pad}        {v}.append({item})",
            *self.long(count, pad + "    "),
        ]

    def primitive(self, schema: str, v: str, pad: str) -> list[str]:
        if schema in ("string", "bytes"):
            size = self.name("size")
            decode = ".decode()" if schema == "string" else ""
            return [
                *self.long(size, pad),
                f"{pad}if {size} < 0 or pos + {size} > len(b): raise NotCompiled",
                f"{pad}{v} = b[pos:pos + {size}]{decode}",
                f"{pad}pos += {size}",
            ]
        if schema in LIMITS:
            return self.long(v, pad)
        if schema == "boolean":
            return [f"{pad}{v} = b[pos] != 0", f"{pad}pos += 1"]
        if schema == "null":
            return [f"{pad}{v} = None"]
        raise Unsupported(f"type {schema}")


def _record(parsed: Any) -> dict[str, Any]:
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise Unsupported("a top level other than a record")
    return parsed


def _build(source: _Source, parsed: Any) -> Callable[..., Any] | None:
    """The compiled top-level function, or None: fastavro does it all. A schema this module fails on in any
    other way than :class:`Unsupported` is a bug here, logged, and must not stop the values of that schema."""
    try:
        return source.build(source.record(_record(parsed)))
    except Unsupported:
        return None
    except Exception:
        name = parsed.get("name") if isinstance(parsed, dict) else parsed
        log.warning("Avro schema %s not compiled, fastavro reads and writes it", name, exc_info=True)
        return None


def compile_writer(parsed: Any) -> Writer | None:
    """A writer for the parsed record schema ``parsed`` (``fastavro.parse_schema``), or None when the schema
    uses something not compiled here. It raises NotCompiled for a value it is not sure of."""
    write_record = _build(_WriterSource(parsed), parsed)
    if write_record is None:
        return None

    def write(value: Any, prefix: bytes = b"") -> bytes:
        if type(value) is not dict:
            raise NotCompiled
        out = bytearray(prefix)
        try:
            write_record(out, value)
        except NotCompiled:
            raise
        except Exception as exc:  # an enum symbol not in the schema, a decimal too precise, ...
            raise NotCompiled(str(exc)) from exc
        return bytes(out)

    return write


def compile_reader(parsed: Any) -> Reader | None:
    """A reader for the parsed record schema ``parsed``, or None when the schema uses something not compiled
    here. It raises NotCompiled for bytes it cannot read cleanly (fastavro then says what is wrong)."""
    read_record = _build(_ReaderSource(parsed), parsed)
    if read_record is None:
        return None

    def read(data: bytes, pos: int = 0) -> Any:
        try:
            return read_record(data, pos)[0]
        except NotCompiled:
            raise
        except Exception as exc:  # past the end, not UTF-8, a logical value out of range, ...
            raise NotCompiled(str(exc)) from exc

    return read
