"""The shape of a JSON output: whether it looks like JSON, its nesting depth, and what is wrong with it.

Nothing here recurses: depth is measured on the parsed value with a stack, or on the text by counting brackets
outside string literals (the same measure as the `json_depth` output column), so a 10,000-deep output is a
number, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from monitoring_pipeline.core.text import STRING_LITERAL

FENCE = re.compile(r"\s*```(?:json)?[ \t]*\n(.*?)(?:\n?```|\Z)", re.DOTALL | re.IGNORECASE)  # a markdown code fence
PREAMBLE = re.compile(r"\s*[^\n{\[]{0,100}:[ \t]*\n(?=\s*(?:\{|\[|```))")  # "Here is the summary in JSON:"
# An object, an array of arrays/objects/strings or a ```json fence at the start, after at most a one-line preamble
# ending with a colon ("Here is the JSON:"): not a markdown link, a [1] citation, a code block in another language
# or a config example deep in release notes (Rust and Python regex alike).
LOOKS_LIKE_JSON = r"\A\s*(?:[^\n{\[]{0,100}:[ \t]*\n\s*)?(?:\{|\[\s*[\[{\"\]]|(?i:```json))"
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def unfenced(text: str) -> str:
    """The JSON of a JSON-like output: inside its code fence (```json ... ```, the closing fence may be cut off),
    after its one-line preamble, or the text."""
    preamble = PREAMBLE.match(text)
    text = text[preamble.end() :] if preamble else text
    fenced = None if text.lstrip()[:1] in ("{", "[") else FENCE.match(text)
    return fenced.group(1) if fenced else text


def json_strings(text: str, skip_key: re.Pattern[str] | None = None) -> list[str] | None:
    """The string values of a JSON output in document order (none under a key `skip_key` finds), or None when
    the text does not look like JSON or does not parse."""
    if not re.search(LOOKS_LIKE_JSON, text):
        return None
    try:
        value = orjson.loads(unfenced(text))
    except orjson.JSONDecodeError:
        return None
    strings, stack = [], [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(v for k, v in reversed(node.items()) if skip_key is None or not skip_key.search(k))
        elif isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, str):
            strings.append(node)
    return strings


def value_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (scalars 0, "[1]" 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def text_depth(text: str) -> int:
    """Maximum bracket depth outside string literals, by one scan of the text (any text, JSON or not)."""
    depth = deepest = 0
    for char in re.sub(r"[^\[\]{}]", "", re.sub(STRING_LITERAL, "", text)):
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def json_problem(text: str, required: Mapping[str, str], max_depth: int) -> str | None:
    """Parse (the caller has bounded the size) and check depth and the top-level keys' presence and types."""
    text = unfenced(text)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        depth = text_depth(text) if text.count("[") + text.count("{") > max_depth else 0
        return f"json_too_deep:{depth}" if depth > max_depth else "json_invalid"
    depth = value_depth(value)
    if depth > max_depth:
        return f"json_too_deep:{depth}"
    if required and not isinstance(value, dict):
        return "json_not_object"
    for key, kind in required.items():
        if key not in value:
            return f"json_missing_key:{key}"
        expected = JSON_TYPES[kind]
        if not isinstance(value[key], expected) or (kind in ("number", "integer") and isinstance(value[key], bool)):
            return f"json_wrong_type:{key}"
    return None
