"""The argument checks every entry point runs before a request, message by message.

A bad argument is a ``TypeError`` (wrong kind) or ``ValueError`` (wrong value) that
names the argument, what it must be and what was given; a misspelled keyword gets a
did-you-mean hint. Nothing is paid for on a bad argument, so these messages are the
first thing a user reads when a call is wrong.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from langchain_vlmrun.core import _validation
from langchain_vlmrun.core._validation import (
    check_agent_name,
    check_json_schema,
    check_keywords,
    check_mapping,
    check_number,
    check_response_model,
    hint_misspelled_keywords,
    merge_config,
    reject_unknown,
)


@pytest.fixture(autouse=True)
def fresh_schema_memo() -> Iterator[None]:
    """Each test sees the real meta-schema check, not a verdict memoised by another."""
    _validation._canonical_schema_problem.cache_clear()
    yield
    _validation._canonical_schema_problem.cache_clear()


# --- agent names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "invoice", "my-agent:v2", "doc.reader_2:1.0-rc", "A" * 128, "a:" + "b" * 64, None],
)
def test_valid_agent_names_are_returned_as_given(name: str | None) -> None:
    assert check_agent_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../../x",
        "a b",
        "a/b",
        "-a",
        ".a",
        "a:",
        "a:-v",
        "a:b:c",
        "A" * 129,
        "a:" + "b" * 65,
        "a\n",
        3,
        b"agent",
    ],
)
def test_invalid_agent_names_say_what_a_name_is(name: object) -> None:
    with pytest.raises(ValueError) as refused:
        check_agent_name(name)
    assert str(refused.value) == (
        f"Invalid agent name {name!r}: use 'name' or 'name:version' "
        "(letters, digits, '.', '_', '-')."
    )


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "options", "returned"),
    [
        (30, {}, 30),
        (0.5, {}, 0.5),
        (None, {}, None),
        (0, {"inclusive": True}, 0),
        (1, {"minimum": 1, "inclusive": True, "integer": True}, 1),
        (10**20, {"integer": True}, 10**20),
        (2.5, {"minimum": 2.25}, 2.5),
    ],
)
def test_numbers_in_range_are_returned_as_given(
    value: object, options: dict[str, Any], returned: object
) -> None:
    result = check_number("n", value, **options)
    assert result == returned and type(result) is type(returned)


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (None, {"optional": False}, "timeout must be a number > 0, got NoneType None."),
        ("30", {}, "timeout must be a number > 0, got str '30'."),
        (True, {}, "timeout must be a number > 0, got bool True."),
        (False, {"inclusive": True}, "timeout must be a number >= 0, got bool False."),
        (1.0, {"integer": True}, "timeout must be an integer > 0, got float 1.0."),
        (
            2.5,
            {"minimum": 1, "inclusive": True, "integer": True},
            "timeout must be an integer >= 1, got float 2.5.",
        ),
        ([1], {}, "timeout must be a number > 0, got list [1]."),
    ],
)
def test_a_number_of_the_wrong_kind_is_a_type_error(
    value: object, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as refused:
        check_number("timeout", value, **options)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (-1, {}, "timeout must be a number > 0, got -1."),
        (0, {}, "timeout must be a number > 0, got 0."),  # the minimum, exclusive
        (0.0, {}, "timeout must be a number > 0, got 0.0."),
        (-0.001, {"inclusive": True}, "timeout must be a number >= 0, got -0.001."),
        (
            0,
            {"minimum": 1, "inclusive": True, "integer": True},
            "timeout must be an integer >= 1, got 0.",
        ),
        (2.25, {"minimum": 2.25}, "timeout must be a number > 2.25, got 2.25."),
        (float("nan"), {}, "timeout must be a number > 0, got nan."),
        (float("inf"), {}, "timeout must be a number > 0, got inf."),
        (float("-inf"), {"inclusive": True}, "timeout must be a number >= 0, got -inf."),
    ],
)
def test_a_number_out_of_range_is_a_value_error(
    value: object, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        check_number("timeout", value, **options)
    assert str(refused.value) == message


@given(value=st.floats(allow_nan=False, allow_infinity=False), minimum=st.integers(-5, 5))
def test_a_finite_number_is_accepted_exactly_above_the_minimum(value: float, minimum: int) -> None:
    for inclusive in (False, True):
        accepted = value > minimum or (inclusive and value == minimum)
        if accepted:
            assert check_number("n", value, minimum=minimum, inclusive=inclusive) == value
        else:
            with pytest.raises(ValueError):
                check_number("n", value, minimum=minimum, inclusive=inclusive)


# --- mappings and config ---------------------------------------------------------------


def test_a_mapping_with_string_keys_is_returned_as_is() -> None:
    value = {"a": 1}
    assert check_mapping("config", value) is value
    proxy = MappingProxyType({"b": 2})
    assert check_mapping("config", proxy) is proxy
    assert check_mapping("config", None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["a"], "config must be a dict with string keys, got list: \"['a']\"."),
        ({1: "a"}, "config must be a dict with string keys, got dict: \"{1: 'a'}\"."),
        ("prompt=x", "config must be a dict with string keys, got str: 'prompt=x'."),
        (
            list(range(40)),
            f"config must be a dict with string keys, got list: {str(list(range(40)))[:80]!r}.",
        ),
    ],
)
def test_anything_else_is_a_type_error_showing_a_bit_of_it(value: object, message: str) -> None:
    with pytest.raises(TypeError) as refused:
        check_mapping("config", value)
    assert str(refused.value) == message
    with pytest.raises(TypeError) as refused_by_merge:
        merge_config(value)  # type: ignore[arg-type]
    assert str(refused_by_merge.value) == message


def test_merge_config_adds_the_explicit_values() -> None:
    config = {"prompt": "Read it", "mode": "fast", "model": None}
    merged = merge_config(config, prompt="Read it", model="m-1", agent_name=None, extra=0)
    assert merged == {"prompt": "Read it", "mode": "fast", "model": "m-1", "extra": 0}
    assert config == {"prompt": "Read it", "mode": "fast", "model": None}  # not changed
    assert merge_config(None, prompt="p") == {"prompt": "p"}
    assert merge_config(None) == {}


@pytest.mark.parametrize(
    ("given", "configured", "shown_given", "shown_configured"),
    [
        ("B", "A", "'B'", "'A'"),
        (2, 1, "2", "1"),
        ("x" * 58, "y", "'" + "x" * 58 + "'", "'y'"),  # 60 characters: shown whole
        ("x" * 59, "y", "'" + "x" * 56 + "...", "'y'"),  # 61: cut to 57 and '...'
        ("p", "z" * 200, "'p'", "'" + "z" * 56 + "..."),
    ],
)
def test_a_key_given_twice_with_different_values_is_refused(
    given: Any, configured: Any, shown_given: str, shown_configured: str
) -> None:
    with pytest.raises(ValueError) as refused:
        merge_config({"prompt": configured}, prompt=given)
    assert str(refused.value) == (
        f"prompt is given twice with different values: prompt={shown_given} and "
        f"config['prompt']={shown_configured}. Pass it once."
    )


# --- JSON Schemas ---------------------------------------------------------------------


def test_a_valid_schema_is_returned_as_a_new_dict() -> None:
    schema = {"type": "object", "properties": {"total": {"type": "number"}}}
    checked = check_json_schema(schema)
    assert checked == schema and checked is not schema
    proxy = MappingProxyType({"type": "string"})
    assert check_json_schema(proxy) == {"type": "string"}
    assert type(check_json_schema(proxy)) is dict
    assert check_json_schema(None) is None
    assert check_json_schema({}) == {}


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "strnig"}, "'strnig' is not valid under any of the given schemas (at type)"),
        (
            {"type": "object", "properties": {"a": {"type": "strnig"}}},
            "'strnig' is not valid under any of the given schemas (at properties.a.type)",
        ),
        ({"type": "object", "required": "a"}, "'a' is not of type 'array' (at required)"),
        ({"enum": {1, 2}}, "{1, 2} is not of type 'array' (at enum)"),  # not JSON: checked as is
        (
            # property names that collide once written as JSON: every one is checked
            {"properties": {1: {"type": "bogus"}, "1": {"type": "string"}}},
            "'bogus' is not valid under any of the given schemas (at properties.1.type)",
        ),
    ],
)
def test_an_invalid_schema_says_what_and_where(schema: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_json_schema(schema)
    assert str(refused.value) == (
        f"json_schema is not a valid JSON Schema: {problem}. Fix it, "
        "or pass response_model=YourPydanticModel."
    )


def test_the_meta_schema_check_runs_once_per_distinct_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It costs ~1.5 ms: a loader checking the schema for each of many documents pays once."""
    from jsonschema import Draft202012Validator

    checked: list[Any] = []
    original = Draft202012Validator.check_schema

    def counting(cls: type, schema: Any, *args: Any, **kwargs: Any) -> None:
        checked.append(schema)
        original(schema, *args, **kwargs)

    monkeypatch.setattr(Draft202012Validator, "check_schema", classmethod(counting))
    schema = {"type": "object", "properties": {"total": {"type": "number"}}, "required": []}
    for _ in range(5):
        assert check_json_schema(schema) == schema
    same_in_another_order = {"required": [], "properties": {"total": {"type": "number"}}}
    same_in_another_order["type"] = "object"
    assert check_json_schema(same_in_another_order) == same_in_another_order
    assert checked == [schema]
    for _ in range(3):
        with pytest.raises(ValueError, match=r"\(at type\)"):
            check_json_schema({"type": "strnig"})
    assert checked == [schema, {"type": "strnig"}]


def test_a_schema_checked_twice_gets_the_same_verdict() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match=r"\(at type\)"):
            check_json_schema({"type": "strnig"})
        assert check_json_schema({"type": "string"}) == {"type": "string"}


@pytest.mark.parametrize(
    ("schema", "shown"),
    [
        ("{'type': 'object'}", "str: \"{'type': 'object'}\""),
        (["type", "object"], "list: \"['type', 'object']\""),
        (True, "bool: 'True'"),
        ("s" * 100, "str: " + repr("s" * 80)),
    ],
)
def test_a_schema_that_is_not_a_mapping_is_a_type_error(schema: object, shown: str) -> None:
    with pytest.raises(TypeError) as refused:
        check_json_schema(schema)
    assert str(refused.value) == (
        f"json_schema must be a JSON Schema dict, got {shown}. Pass a dict, or "
        "response_model=YourPydanticModel."
    )


# --- response models -------------------------------------------------------------------


class Invoice(BaseModel):
    total: float


class Unschemable(BaseModel):
    callback: Callable[[int], int]


def test_a_pydantic_model_is_returned() -> None:
    assert check_response_model(Invoice) is Invoice
    assert check_response_model(None) is None


@pytest.mark.parametrize("model", [Invoice(total=1.0), dict, "Invoice", {"type": "object"}])
def test_anything_but_a_model_class_is_a_type_error(model: object) -> None:
    with pytest.raises(TypeError) as refused:
        check_response_model(model)
    assert str(refused.value) == (
        f"response_model must be a pydantic BaseModel subclass, got {model!r}; "
        "for a plain dict schema pass json_schema=... instead."
    )


def test_a_model_without_a_json_schema_is_a_type_error() -> None:
    with pytest.raises(TypeError) as refused:
        check_response_model(Unschemable)
    message = str(refused.value)
    assert message.startswith("response_model Unschemable cannot be turned into a JSON schema (")
    assert "Callable" in message
    assert message.endswith(
        "); use field types pydantic can describe (str, int, float, bool, lists, nested models)."
    )
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


# --- keyword arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            ["promt"],
            "VLMRunLoader got an unexpected keyword argument 'promt' (did you mean 'prompt'?).",
        ),
        (["zzz"], "VLMRunLoader got an unexpected keyword argument 'zzz'."),
        (
            ["promt", "zzz"],
            "VLMRunLoader got unexpected keyword arguments 'promt' (did you mean 'prompt'?), "
            "'zzz'.",
        ),
        (
            ["agent", "prompts", "q"],
            "VLMRunLoader got unexpected keyword arguments 'agent' (did you mean 'agent_name'?), "
            "'prompts' (did you mean 'prompt'?), 'q'.",
        ),
    ],
)
def test_unknown_keywords_are_named_with_a_hint(given: list[str], message: str) -> None:
    with pytest.raises(TypeError) as refused:
        reject_unknown("VLMRunLoader", given, ["prompt", "agent_name", "prompt_id"])
    assert str(refused.value) == message


def test_no_unknown_keyword_is_no_error() -> None:
    assert reject_unknown("X", [], ["a"]) is None
    assert reject_unknown("X", iter([]), iter([])) is None


def test_the_closest_name_is_the_one_suggested() -> None:
    with pytest.raises(TypeError, match=r"'wait_timout' \(did you mean 'wait_timeout'\?\)\.$"):
        reject_unknown("f", ["wait_timout"], ["timeout", "wait_timeout", "retry_timeout"])


def operation(file: str, /, prompt: str, *extra: Any, timeout: float = 1, **more: Any) -> None:
    """``file`` is positional only; ``extra`` and ``more`` take no keyword of their name."""


class Service:
    def execute(self, prompt: str, *, agent_name: str | None = None) -> None:
        """A method: ``self`` is not a keyword."""


@pytest.mark.parametrize(
    ("function", "given", "message"),
    [
        (operation, ["prompt", "timeout"], None),
        (operation, ["file"], "process got an unexpected keyword argument 'file'."),
        (operation, ["extra"], "process got an unexpected keyword argument 'extra'."),
        (operation, ["more"], "process got an unexpected keyword argument 'more'."),
        (
            operation,
            ["timout"],
            "process got an unexpected keyword argument 'timout' (did you mean 'timeout'?).",
        ),
        (Service.execute, ["agent_name", "prompt"], None),
        (Service.execute, ["self"], "process got an unexpected keyword argument 'self'."),
        (Service().execute, ["self"], "process got an unexpected keyword argument 'self'."),
        (
            Service.execute,
            ["agentname"],
            "process got an unexpected keyword argument 'agentname' (did you mean 'agent_name'?).",
        ),
    ],
)
def test_check_keywords_knows_what_a_function_takes_by_keyword(
    function: Callable[..., Any], given: list[str], message: str | None
) -> None:
    if message is None:
        check_keywords("process", function, given)
        return
    with pytest.raises(TypeError) as refused:
        check_keywords("process", function, given)
    assert str(refused.value) == message


# --- hint_misspelled_keywords -------------------------------------------------------------


def make_widget() -> type:
    """A class decorated inside the test (the decorator runs now, not at import)."""

    @hint_misspelled_keywords
    class Widget:
        def __init__(self, size: int = 1, *, colour: str = "red") -> None:
            self.size = size
            self.colour = colour

        def paint(self, colour: str, *, coats: int = 1) -> str:
            """Paint it."""
            return f"{colour} x{coats}"

        async def apaint(self, colour: str, *, coats: int = 1) -> str:
            return f"{colour} x{coats}"

        def configure(self, **options: Any) -> dict[str, Any]:
            return options

        def _private(self, depth: int = 1) -> int:
            return depth

        @staticmethod
        def helper(depth: int = 1) -> int:
            return depth

    return Widget


def test_a_misspelled_constructor_keyword_gets_a_hint() -> None:
    widget = make_widget()
    with pytest.raises(TypeError) as refused:
        widget(colur="blue")
    assert str(refused.value) == (
        "Widget got an unexpected keyword argument 'colur' (did you mean 'colour'?)."
    )
    made = widget(2, colour="blue")
    assert (made.size, made.colour) == (2, "blue")


def test_a_misspelled_method_keyword_gets_a_hint_naming_the_method() -> None:
    widget = make_widget()()
    with pytest.raises(TypeError) as refused:
        widget.paint("blue", coat=2)
    assert str(refused.value) == (
        "Widget.paint got an unexpected keyword argument 'coat' (did you mean 'coats'?)."
    )
    with pytest.raises(TypeError) as several:
        widget.paint(colour="blue", coat=2, layer=1)
    assert str(several.value) == (
        "Widget.paint got unexpected keyword arguments 'coat' (did you mean 'coats'?), 'layer'."
    )
    assert widget.paint(colour="blue", coats=3) == "blue x3"
    assert widget.paint("red") == "red x1"


def test_a_subclass_is_named_as_itself() -> None:
    class Gadget(make_widget()):  # type: ignore[misc]
        pass

    with pytest.raises(TypeError) as refused:
        Gadget(colr="blue")
    assert str(refused.value) == (
        "Gadget got an unexpected keyword argument 'colr' (did you mean 'colour'?)."
    )
    with pytest.raises(
        TypeError, match=r"^Gadget\.paint got an unexpected keyword argument 'x'\.$"
    ):
        Gadget().paint("blue", x=1)


def test_an_async_method_stays_a_coroutine_function_and_is_checked() -> None:
    widget = make_widget()()
    assert inspect.iscoroutinefunction(widget.apaint)
    assert asyncio.run(widget.apaint("blue", coats=2)) == "blue x2"
    with pytest.raises(TypeError) as refused:
        asyncio.run(widget.apaint("blue", coat=2))
    assert str(refused.value) == (
        "Widget.apaint got an unexpected keyword argument 'coat' (did you mean 'coats'?)."
    )


def test_methods_the_decorator_leaves_alone() -> None:
    widget_class = make_widget()
    widget = widget_class()
    # **options takes any keyword
    assert widget.configure(anything=1, colour=2) == {"anything": 1, "colour": 2}
    # private methods and static methods keep Python's own error
    with pytest.raises(TypeError, match=r"_private\(\) got an unexpected keyword argument 'dept'"):
        widget._private(dept=2)
    with pytest.raises(TypeError, match=r"helper\(\) got an unexpected keyword argument 'dept'"):
        widget.helper(dept=2)
    assert widget._private(depth=4) == 4 and widget_class.helper(depth=5) == 5


def test_a_wrapped_method_keeps_its_name_and_doc() -> None:
    widget_class = make_widget()
    assert widget_class.paint.__name__ == "paint"
    assert widget_class.paint.__doc__ == "Paint it."
    assert widget_class.__init__.__name__ == "__init__"
    assert list(inspect.signature(widget_class.paint).parameters) == ["self", "colour", "coats"]
