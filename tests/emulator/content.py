"""Emulated execution results: markdown pages, or realistic JSON following a JSON schema.

``schema_content`` builds a value conforming to a JSON schema (objects, arrays, strings,
numbers, integers, booleans, enums, const, anyOf/oneOf/allOf, ``$defs``/``$ref`` as pydantic
emits them). Property names hint the content, and the input's media type (from its file
name) shapes arrays::

    schema = {"type": "object", "properties": {"segments": {"type": "array", "items": {
        "type": "object", "properties": {"start": {"type": "number"},
                                         "end": {"type": "number"}}}}}}
    schema_content(schema, Inputs(["talk.mp3"]))
    # {"segments": [{"start": 0.0, "end": 4.2}, {"start": 4.6, "end": 7.7}, ...]}

- documents: an array whose items look like pages (a ``page*`` integer, or a
  ``markdown``/``content`` string) gets one item per page, numbered from 0;
- audio/video: an array whose items have start/end-like numbers gets one item per segment,
  with increasing, non-overlapping times (``text``, ``speaker`` A/B, ``description``);
- images: ``text`` and ``description`` strings about the image.

``schema_errors`` is a small structural validator (for when ``jsonschema`` is absent).
Everything is deterministic: no randomness, only positions and names.
"""

from __future__ import annotations

import math
import mimetypes
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

JSONDict = dict[str, Any]
#: A string ``pattern`` asking for an artifact ref (SDK types/refs.py: ``^img_\\w{6}$``).
REF_PATTERN = re.compile(r"^\^(img|aud|vid|doc|recon|arr|url)_\\w\{6\}\$$")
MediaKind = Literal["document", "image", "audio", "video"]

_DURATIONS = (4.2, 3.1, 5.6, 2.8, 4.9, 3.7)
_GAP = 0.4
_MAX_DEPTH = 12
_DOCUMENT_TYPES = ("application/", "text/")

_START = re.compile(r"^(start|begin|from|offset|timestamp|time)(_.*)?$|^t0$|.*_start(_.*)?$")
_END = re.compile(r"^(end|stop|to|until)(_.*)?$|^t1$|.*_end(_.*)?$")
_PAGE = re.compile(r"^(page|page_?(number|num|index|no|idx))$")
_MARKDOWN = re.compile(r"markdown|^md$|^content$|page_content|^body$")
_TEXT = re.compile(r"text|transcript|utterance|sentence|speech|ocr|words")
_DESCRIPTION = re.compile(r"descri|summary|caption|scene|visual|narration|explanation")


def media_kind(filename: str | None) -> MediaKind | None:
    """Media of a file by its name's MIME type; None when unknown or absent."""
    if not filename:
        return None
    mime = mimetypes.guess_type(filename)[0] or ""
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith(_DOCUMENT_TYPES):
        return "document"
    return None


@dataclass
class Inputs:
    """What an execution read: file names (first one decides the media), pages per
    document and segments per audio/video file."""

    filenames: Sequence[str] = ()
    pages_per_file: int = 2
    segments_per_file: int = 4
    artifact: Callable[[str], str] | None = None
    """Makes an artifact of a kind (``img``...) and returns its id, for strings whose
    ``pattern`` asks for an artifact ref; None: plausible ids that reference nothing."""

    @property
    def source(self) -> str:
        return self.filenames[0] if self.filenames else "the input"

    @property
    def kind(self) -> MediaKind | None:
        return media_kind(self.filenames[0]) if self.filenames else None

    @property
    def pages(self) -> int:
        return max(1, len(self.filenames)) * self.pages_per_file

    @property
    def segments(self) -> int:
        return max(1, len(self.filenames)) * self.segments_per_file


def segment_times(n: int) -> list[tuple[float, float]]:
    """``n`` increasing, non-overlapping (start, end) pairs in seconds."""
    out: list[tuple[float, float]] = []
    t = 0.0
    for i in range(n):
        end = round(t + _DURATIONS[i % len(_DURATIONS)], 2)
        out.append((round(t, 2), end))
        t = end + _GAP
    return out


def _norm(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")


class _Generator:
    def __init__(self, root: Mapping[str, Any], inputs: Inputs) -> None:
        self.root = root
        self.inputs = inputs
        self.expanding: list[str] = []
        """$refs being expanded on the current path: a repeat is a recursive structure."""

    # ----------------------------------------------------------------- schema plumbing

    def resolve(self, schema: Any, depth: int = 0) -> Mapping[str, Any]:
        """Follow $ref, merge allOf, pick the first non-null anyOf/oneOf option."""
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = _pointer(self.root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.resolve({**target, **rest}, depth + 1)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in all_of:
                part = self.resolve(part, depth + 1)
                for key, value in part.items():
                    if key in ("properties", "$defs") and isinstance(value, Mapping):
                        merged[key] = {**merged.get(key, {}), **value}
                    elif key == "required" and isinstance(value, list):
                        merged[key] = [*merged.get(key, []), *value]
                    else:
                        merged.setdefault(key, value)
            return merged
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                rest = {k: v for k, v in schema.items() if k != key}
                chosen = next(
                    (o for o in options if self.resolve(o, depth + 1).get("type") != "null"),
                    options[0],
                )
                return self.resolve({**rest, **self.resolve(chosen, depth + 1)}, depth + 1)
        return schema

    @staticmethod
    def type_of(schema: Mapping[str, Any]) -> str | None:
        typ = schema.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "null")
        if isinstance(typ, str):
            return typ
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return None

    # ----------------------------------------------------------------- values

    def value(self, schema: Any, name: str, index: int, depth: int) -> Any:
        refs = _refs(schema)
        recursive = any(ref in self.expanding for ref in refs)
        if (recursive or depth > _MAX_DEPTH) and _nullable(schema):
            return None  # an Optional parent/child: stop the recursion here
        if depth > 4 * _MAX_DEPTH:
            return None
        self.expanding.extend(refs)
        try:
            return self.typed_value(schema, name, index, depth)
        finally:
            del self.expanding[len(self.expanding) - len(refs) :]

    def typed_value(self, schema: Any, name: str, index: int, depth: int) -> Any:
        spec = self.resolve(schema)
        if "const" in spec:
            return spec["const"]
        enum = spec.get("enum")
        if isinstance(enum, list) and enum:
            return enum[index % len(enum)]
        typ = self.type_of(spec)
        if typ == "object":
            return self.object(spec, index, depth)
        if typ == "array":
            return self.array(spec, name, depth)
        if typ == "string":
            return self.string(spec, name, index)
        if typ == "integer":
            return self.integer(spec, name, index)
        if typ == "number":
            return self.number(spec, name, index)
        if typ == "boolean":
            return index % 2 == 0
        if typ == "null":
            return None
        return self.string(spec, name, index)  # untyped ({}): anything goes

    def object(self, spec: Mapping[str, Any], index: int, depth: int) -> JSONDict:
        props = spec.get("properties")
        out: JSONDict = {}
        if isinstance(props, Mapping):
            required = set(spec.get("required") or ())
            for prop, sub in props.items():
                if depth >= _MAX_DEPTH and prop not in required:
                    continue
                out[prop] = self.value(sub, prop, index, depth + 1)
        extra = spec.get("additionalProperties")
        if not out and isinstance(extra, Mapping):
            out["example"] = self.value(extra, "example", index, depth + 1)
        return out

    def array(self, spec: Mapping[str, Any], name: str, depth: int) -> list[Any]:
        items = spec.get("items")
        prefix = spec.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(s, name, i, depth + 1) for i, s in enumerate(prefix)]
        item = self.resolve(items)
        recursive = any(ref in self.expanding for ref in _refs(items))
        n = 0 if recursive else self.length(item, _norm(name), depth)
        low = spec.get("minItems")
        high = spec.get("maxItems")
        if isinstance(low, int):
            n = max(n, low)
        if isinstance(high, int):
            n = min(n, high)
        return [self.value(items, _singular(name), i, depth + 1) for i in range(n)]

    def length(self, item: Mapping[str, Any], name: str, depth: int) -> int:
        if depth > 4:  # deep or recursive structures stay small
            return 0
        kind = self.inputs.kind
        props = item.get("properties")
        keys = [_norm(k) for k in props] if isinstance(props, Mapping) else []
        timed = any(_START.match(k) for k in keys) and any(_END.match(k) for k in keys)
        if kind in ("audio", "video") and (timed or name in ("segments", "scenes", "chunks")):
            return self.inputs.segments
        paged = any(_PAGE.match(k) for k in keys) or any(_MARKDOWN.search(k) for k in keys)
        if kind == "document" and (paged or name == "pages"):
            return self.inputs.pages
        return 2

    def string(self, spec: Mapping[str, Any], name: str, index: int) -> str:
        text = self.hinted_string(spec, _norm(name), index)
        low, high = spec.get("minLength"), spec.get("maxLength")
        if isinstance(high, int):
            text = text[:high]
        if isinstance(low, int) and len(text) < low:
            text = text + "." * (low - len(text))
        return text

    def hinted_string(self, spec: Mapping[str, Any], name: str, index: int) -> str:
        fmt = spec.get("format")
        n = index + 1
        ref = REF_PATTERN.match(str(spec.get("pattern") or ""))
        if ref:
            kind = ref.group(1)
            return self.inputs.artifact(kind) if self.inputs.artifact else f"{kind}_{n:06x}"
        if fmt == "date-time":
            return f"2024-08-05T10:{index % 60:02d}:00+00:00"
        if fmt == "date" or name.endswith("date") or name.startswith("date"):
            return f"2024-08-{(index % 28) + 1:02d}"
        if fmt == "time":
            return f"10:{index % 60:02d}:00"
        if fmt == "email" or "email" in name:
            return f"person{n}@example.com"
        if fmt in ("uri", "url", "uri-reference") or name.endswith(("url", "uri", "link")):
            return f"https://example.com/{name or 'item'}/{n}"
        if fmt == "uuid":
            return f"00000000-0000-4000-8000-{n:012d}"
        kind = self.inputs.kind
        source = self.inputs.source
        if "speaker" in name:
            return "AB"[index % 2]
        if name in ("language", "lang", "language_code"):
            return "en"
        if name == "currency":
            return "USD"
        if _START.match(name) or _END.match(name):  # a time written as a string
            start, end = segment_times(index + 1)[index]
            seconds = end if _END.match(name) else start
            return f"{int(seconds // 3600):02d}:{int(seconds // 60 % 60):02d}:{seconds % 60:06.3f}"
        if _MARKDOWN.search(name) or (name == "page" and kind == "document"):
            if kind in ("audio", "video"):
                return f"## Segment {n}\n\n{self.speech(index)}\n"
            return (
                f"# {source}: page {n}\n\n"
                f"Emulated text of page {n} of {source}.\n\n"
                "| Item | Amount |\n|---|---|\n| Widget | 1.50 |\n| Gadget | 2.25 |\n"
            )
        if _DESCRIPTION.search(name):
            if kind == "video":
                return f"Emulated scene {n} of {source}: a person talks in front of a whiteboard."
            if kind == "audio":
                return f"Emulated audio segment {n} of {source}: one speaker, quiet room."
            if kind == "image":
                return f"Emulated description of {source}: a receipt lying on a wooden table."
            return f"Emulated description of {source} (part {n})."
        if _TEXT.search(name):
            if kind in ("audio", "video"):
                return self.speech(index)
            if kind == "image":
                return f"Emulated text read from {source}: TOTAL 12.50 USD"
            return f"Emulated text of page {n} of {source}."
        if name == "id" or name.endswith("_id"):
            return f"{name.split('_')[0][:3].upper()}-{n:06d}"
        if name in ("title", "name", "heading", "label") or name.endswith("_name"):
            return f"Emulated {name.replace('_', ' ')} {n}"
        return f"{name or 'value'}-value from {source}" + (f" #{n}" if index else "")

    def speech(self, index: int) -> str:
        return f"Emulated speech in segment {index + 1} of {self.inputs.source}."

    def integer(self, spec: Mapping[str, Any], name: str, index: int) -> int:
        name = _norm(name)
        if _PAGE.match(name):
            value = index
        elif name == "year" or name.endswith("_year"):
            value = 2024
        elif _START.match(name) or _END.match(name):
            value = int(segment_times(index + 1)[index][1 if _END.match(name) else 0])
        else:
            value = index + 1
        return int(_clamp(value, spec, integer=True))

    def number(self, spec: Mapping[str, Any], name: str, index: int) -> float:
        name = _norm(name)
        start, end = segment_times(index + 1)[index]
        if _END.match(name):
            value = end
        elif _START.match(name):
            value = start
        elif "duration" in name or name in ("length", "seconds"):
            value = round(end - start, 2)
        elif any(w in name for w in ("confidence", "score", "probability")):
            value = 0.93
        elif any(w in name for w in ("percent", "rate")):
            value = 5.0
        elif _PAGE.match(name):
            value = float(index)
        elif any(w in name for w in ("price", "amount", "total", "cost", "balance", "tax")):
            value = round(12.5 * (index + 1), 2)
        elif any(w in name for w in ("quantity", "count")):
            value = float(index + 1)
        else:
            value = 1.5 * (index + 1)
        return float(_clamp(value, spec, integer=False))


def _clamp(value: float, spec: Mapping[str, Any], integer: bool) -> float:
    """Move `value` inside minimum/maximum (exclusive ones included)."""
    step = 1 if integer else 0.01
    low, high = -math.inf, math.inf
    if isinstance(spec.get("minimum"), (int, float)):
        low = spec["minimum"]
    if isinstance(spec.get("exclusiveMinimum"), (int, float)):
        low = max(low, spec["exclusiveMinimum"] + step)
    if isinstance(spec.get("maximum"), (int, float)):
        high = spec["maximum"]
    if isinstance(spec.get("exclusiveMaximum"), (int, float)):
        high = min(high, spec["exclusiveMaximum"] - step)
    if integer:
        low = math.ceil(low) if math.isfinite(low) else low
        high = math.floor(high) if math.isfinite(high) else high
    value = min(max(value, low), high)
    return int(value) if integer else value


def _refs(schema: Any) -> list[str]:
    """The $refs a schema (or its anyOf/oneOf/allOf options) points to."""
    if not isinstance(schema, Mapping):
        return []
    out = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key) or ():
            if isinstance(option, Mapping) and isinstance(option.get("$ref"), str):
                out.append(option["$ref"])
    return out


def _nullable(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    typ = schema.get("type")
    if typ == "null" or (isinstance(typ, list) and "null" in typ):
        return True
    options = [*(schema.get("anyOf") or ()), *(schema.get("oneOf") or ())]
    return any(isinstance(o, Mapping) and o.get("type") == "null" for o in options)


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


def _pointer(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node if isinstance(node, Mapping) else {}


def schema_content(schema: Mapping[str, Any], inputs: Inputs | None = None) -> Any:
    """A realistic value conforming to `schema` (see the module docstring)."""
    return _Generator(schema, inputs or Inputs()).value(schema, "", 0, 0)


def schema_response(schema: Mapping[str, Any], filename: str | None) -> JSONDict:
    """Backward-compatible entry point: content for one file; non-objects are wrapped."""
    value = schema_content(schema, Inputs([filename] if filename else []))
    return value if isinstance(value, dict) else {"value": value}


def markdown_response(filenames: list[str], pages_per_file: int) -> JSONDict:
    pages: list[JSONDict] = []
    for filename in filenames or ["input"]:
        for i in range(pages_per_file):
            number = i + 1
            tables: list[JSONDict] = []
            text = (
                f"# {filename}: page {number}\n\n"
                f"Emulated text of page {number} of {pages_per_file} of {filename}.\n"
            )
            if i == 0:
                text += '\n<Table id="tb-0"/>\n\nThe table above lists the emulated items.\n'
                tables.append(
                    {
                        "metadata": {
                            "title": f"Items in {filename}",
                            "caption": None,
                            "notes": None,
                        },
                        "headers": [
                            {"id": "item_0", "column": 0, "name": "Item", "dtype": "str"},
                            {"id": "amount_1", "column": 1, "name": "Amount", "dtype": "float"},
                        ],
                        "data": [
                            {"item_0": "Widget", "amount_1": "1.50"},
                            {"item_0": "Gadget", "amount_1": "2.25"},
                        ],
                        "content": None,
                        "bbox": None,
                        "cells": None,
                    }
                )
            pages.append({"content": text, "tables": tables, "figures": []})
    return {"pages": pages}


# --------------------------------------------------------------------------- validation


def schema_errors(value: Any, schema: Any, root: Any = None, path: str = "$") -> list[str]:
    """Structural JSON-schema check (types, enum/const, required, properties, items,
    bounds, anyOf/oneOf/allOf, $ref). Returns error strings; [] means it conforms.
    Formats and patterns are not checked."""
    root = schema if root is None else root
    if schema is True or not isinstance(schema, Mapping):
        return []
    errors: list[str] = []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        errors += schema_errors(value, _pointer(root, ref), root, path)
    for part in schema.get("allOf") or ():
        errors += schema_errors(value, part, root, path)
    for key, need_one in (("anyOf", False), ("oneOf", True)):
        options = schema.get(key)
        if isinstance(options, list):
            ok = sum(not schema_errors(value, o, root, path) for o in options)
            if ok == 0 or (need_one and ok > 1):
                errors.append(f"{path}: {ok} of {key} options match")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != const {schema['const']!r}")
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    typ = schema.get("type")
    if typ is not None:
        types = typ if isinstance(typ, list) else [typ]
        if not any(_is_type(value, t) for t in types):
            return [*errors, f"{path}: {value!r} is not of type {typ}"]
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                errors.append(f"{path}: missing required {name!r}")
        extra = schema.get("additionalProperties")
        for name, sub in value.items():
            if name in props:
                errors += schema_errors(sub, props[name], root, f"{path}.{name}")
            elif extra is False:
                errors.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, Mapping):
                errors += schema_errors(sub, extra, root, f"{path}.{name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than minItems")
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than maxItems")
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items"), root, f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than minLength")
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than maxLength")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, bad in (
            ("minimum", operator.lt),
            ("maximum", operator.gt),
            ("exclusiveMinimum", operator.le),
            ("exclusiveMaximum", operator.ge),
        ):
            bound = schema.get(key)
            if isinstance(bound, (int, float)) and bad(value, bound):
                errors.append(f"{path}: {value} violates {key} {bound}")
    return errors


def _is_type(value: Any, typ: str) -> bool:
    if typ == "null":
        return value is None
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ == "string":
        return isinstance(value, str)
    if typ == "array":
        return isinstance(value, list)
    if typ == "object":
        return isinstance(value, dict)
    return True


__all__ = [
    "Inputs",
    "MediaKind",
    "markdown_response",
    "media_kind",
    "schema_content",
    "schema_errors",
    "schema_response",
    "segment_times",
]
