"""Entity-set segments with keys: ``accounts(<guid>)``, ``accounts(accountnumber='ACC-1')``,
``CustomersV3(dataAreaId='usmf',CustomerAccount='C1')``."""

from __future__ import annotations

import re
from typing import Any

from p2c.sandbox.odata.errors import ODataError

_SEGMENT = re.compile(r"^([A-Za-z_][\w.]*)(?:\((.*)\))?$", re.DOTALL)
_PAIR = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")


def _value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if raw in ("true", "false"):
        return raw == "true"
    return raw


def parse_segment(segment: str, code: str = "") -> tuple[str, Any]:
    """``name(key)`` -> (name, None | single value | {name: value})."""
    m = _SEGMENT.match(segment)
    if not m:
        raise ODataError(404, f"Resource not found for the segment '{segment}'.", code)
    name, inner = m.group(1), m.group(2)
    if inner is None:
        return name, None
    inner = inner.strip()
    if not inner:
        raise ODataError(400, f"The key in segment '{segment}' is empty.", code)
    if "=" not in inner or inner.startswith("'"):
        return name, _value(inner)
    pairs: dict[str, Any] = {}
    pos = 0
    while pos < len(inner):
        pm = _PAIR.match(inner, pos)
        if not pm or pm.end() == pos:
            raise ODataError(400, f"Bad key syntax in segment '{segment}'.", code)
        pairs[pm.group(1)] = _value(pm.group(2))
        pos = pm.end()
    return name, pairs


def split_path(path: str) -> list[str]:
    """Split on '/' outside quotes and parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in path:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "/" and depth == 0 and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p]
