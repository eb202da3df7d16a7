"""Checks of user arguments, run before any request: typed errors that say what to do.

Every entry point (client, tool, extractor, loader, parser) validates its arguments
here at construction or before the first request, so nothing is paid for on a bad
argument.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = [
    "AGENT_NAME",
    "check_agent_name",
    "check_json_schema",
    "check_mapping",
    "check_number",
    "check_keywords",
    "check_response_model",
    "hint_misspelled_keywords",
    "merge_config",
    "reject_unknown",
]

#: ``name`` or ``name:version``: letters, digits, ``.``, ``_``, ``-`` (no spaces or slashes).
AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?")


def check_agent_name(name: object) -> str | None:
    """``name`` if it is a valid agent name (or None), else ValueError.

    Example:
        >>> check_agent_name("my-agent:v2")
        'my-agent:v2'
        >>> check_agent_name("../../x y")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Invalid agent name '../../x y': use 'name' or 'name:version' (...).
    """
    if name is None:
        return None
    if not isinstance(name, str) or not AGENT_NAME.fullmatch(name):
        raise ValueError(
            f"Invalid agent name {name!r}: use 'name' or 'name:version' "
            "(letters, digits, '.', '_', '-')."
        )
    return name


def check_number(
    name: str,
    value: object,
    *,
    minimum: float = 0.0,
    inclusive: bool = False,
    integer: bool = False,
    optional: bool = True,
) -> Any:
    """``value`` if it is a finite number above ``minimum`` (or None when optional).

    Example:
        >>> check_number("timeout", 30)
        30
        >>> check_number("timeout", -1)
        Traceback (most recent call last):
        ...
        ValueError: timeout must be a number > 0, got -1.
    """
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a number"
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
    if not wrong_type and integer and not isinstance(value, int):
        wrong_type = True
    if wrong_type:
        raise TypeError(f"{name} must be {kind} {bound}, got {type(value).__name__} {value!r}.")
    assert isinstance(value, (int, float))
    if (
        math.isnan(value)
        or math.isinf(value)
        or value < minimum
        or (value == minimum and not inclusive)
    ):
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}.")
    return value


def check_mapping(name: str, value: object) -> Mapping[str, Any] | None:
    """``value`` if it is a mapping with string keys (or None), else TypeError."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(
            f"{name} must be a dict with string keys, got {type(value).__name__}: "
            f"{str(value)[:80]!r}."
        )
    return value


def check_json_schema(schema: object) -> dict[str, Any] | None:
    """A copy of ``schema`` if it is a valid JSON Schema object (or None), else an error.

    Example:
        >>> check_json_schema({"type": "object", "properties": {"a": {"type": "string"}}})
        {'type': 'object', 'properties': {'a': {'type': 'string'}}}
        >>> check_json_schema({"type": "strnig"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: json_schema is not a valid JSON Schema: 'strnig' is not valid ... (at type)...
    """
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise TypeError(
            f"json_schema must be a JSON Schema dict, got {type(schema).__name__}: "
            f"{str(schema)[:80]!r}. Pass a dict, or response_model=YourPydanticModel."
        )
    try:  # the meta-check costs ~1.5 ms: once per distinct schema, not once per document
        canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        problem = _schema_problem(dict(schema))
    else:
        problem = _canonical_schema_problem(canonical)
    if problem is not None:
        raise ValueError(
            f"json_schema is not a valid JSON Schema: {problem}. Fix it, "
            "or pass response_model=YourPydanticModel."
        )
    return dict(schema)


@functools.lru_cache(maxsize=256)
def _canonical_schema_problem(canonical: str) -> str | None:
    """:func:`_schema_problem` memoised by the schema's canonical JSON text."""
    return _schema_problem(json.loads(canonical))


def _schema_problem(schema: dict[str, Any]) -> str | None:
    """What makes ``schema`` an invalid JSON Schema (Draft 2020-12), or None."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(p) for p in exc.path) or "top level"
        return f"{exc.message} (at {where})"
    return None


def check_response_model(model: object) -> type[BaseModel] | None:
    """``model`` if it is a pydantic model class whose JSON schema builds, else TypeError."""
    if model is None:
        return None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(
            f"response_model must be a pydantic BaseModel subclass, got {model!r}; "
            "for a plain dict schema pass json_schema=... instead."
        )
    try:
        model.model_json_schema()
    except Exception as exc:  # pydantic raises several types for unschemable fields
        raise TypeError(
            f"response_model {model.__name__} cannot be turned into a JSON schema ({exc}); "
            "use field types pydantic can describe (str, int, float, bool, lists, nested "
            "models)."
        ) from None
    return model


def merge_config(config: Mapping[str, Any] | None, **explicit: Any) -> dict[str, Any]:
    """``config`` with the explicit keyword values added; the same key given both ways
    with different values is a ValueError naming both.

    Example:
        >>> merge_config({"prompt": "Read it", "mode": "fast"}, prompt="Read it")
        {'prompt': 'Read it', 'mode': 'fast'}
        >>> merge_config({"prompt": "A"}, prompt="B")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: prompt is given twice ...: prompt='B' and config['prompt']='A'. Pass it once.
    """
    merged = dict(check_mapping("config", config) or {})
    for key, value in explicit.items():
        if value is None:
            continue
        if key in merged and merged[key] is not None and merged[key] != value:
            raise ValueError(
                f"{key} is given twice with different values: {key}={_short(value)} and "
                f"config[{key!r}]={_short(merged[key])}. Pass it once."
            )
        merged[key] = value
    return merged


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def reject_unknown(what: str, given: Iterable[str], known: Iterable[str]) -> None:
    """TypeError for keyword arguments ``what`` does not take, with a did-you-mean hint.

    Example:
        >>> reject_unknown("VLMRunLoader", ["promt"], ["prompt", "agent_name"])
        Traceback (most recent call last):
        ...
        TypeError: VLMRunLoader got an unexpected keyword argument 'promt' (did you mean 'prompt'?).
    """
    known = list(known)
    problems = []
    for name in given:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"{name!r}{hint}")
    if problems:
        many = len(problems) > 1
        arguments = "unexpected keyword arguments" if many else "an unexpected keyword argument"
        raise TypeError(f"{what} got {arguments} {', '.join(problems)}.")


def _keywords(function: Callable[..., Any]) -> list[str]:
    return [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if name != "self"
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]


def check_keywords(what: str, function: Callable[..., Any], given: Iterable[str]) -> None:
    """:func:`reject_unknown` for the keywords ``function`` takes (for ``**options``
    passed on to it)."""
    known = _keywords(function)
    reject_unknown(what, [name for name in given if name not in known], known)


C = TypeVar("C", bound=type)


def hint_misspelled_keywords(cls: C) -> C:
    """Class decorator: a misspelled keyword argument to the constructor or a public
    method is a ``TypeError`` with a did-you-mean hint (as the components' settings),
    not Python's bare "unexpected keyword argument"."""

    def hinting(function: Callable[..., Any]) -> Callable[..., Any]:
        known = set(_keywords(function))
        if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(function).parameters.values()):
            return function
        owner = "{}" if function.__name__ == "__init__" else "{}." + function.__name__

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            unknown = [name for name in kwargs if name not in known]
            if unknown:
                reject_unknown(owner.format(type(args[0]).__name__), unknown, sorted(known))

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def acall(*args: Any, **kwargs: Any) -> Any:
                check(args, kwargs)
                return await function(*args, **kwargs)

            return acall

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            check(args, kwargs)
            return function(*args, **kwargs)

        return call

    for name, member in list(vars(cls).items()):
        if inspect.isfunction(member) and (name == "__init__" or not name.startswith("_")):
            setattr(cls, name, hinting(member))
    return cls
