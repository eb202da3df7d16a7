"""A response that does not fit the caller's model: the error a user reads, word for
word, and what it keeps for them (each problem, the raw response, the execution)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from langchain_vlmrun import ResponseValidationError
from langchain_vlmrun.core.models import AgentExecution
from langchain_vlmrun.documents._structured import Validation, validate_response


class Line(BaseModel):
    sku: str
    qty: int


class Invoice(BaseModel):
    total: float
    lines: list[Line]


def done(response: object, execution_id: str = "ex-1") -> AgentExecution:
    return AgentExecution(id=execution_id, status="completed", response=response)


def test_each_problem_is_named_by_its_path_and_the_fix_is_said() -> None:
    bad = {"total": "a lot", "lines": [{"sku": "A", "qty": "two"}]}
    with pytest.raises(ResponseValidationError) as caught:
        validate_response(done(bad), Invoice)
    error = caught.value
    assert str(error) == (
        "Execution ex-1 returned a response that does not match Invoice: "
        "total: Input should be a valid number, unable to parse string as a number; "
        "lines.0.qty: Input should be a valid integer, unable to parse string as an integer. "
        "The raw response is on error.raw_response; loosen the model (Optional fields) "
        "or refine the prompt."
    )
    assert error.raw_response == bad and error.execution_id == "ex-1"
    assert error.execution is not None and error.execution.response == bad
    assert [(e["loc"], e["type"]) for e in error.errors] == [
        (("total",), "float_parsing"),
        (("lines", 0, "qty"), "int_parsing"),
    ]


def test_a_response_of_the_wrong_shape_is_named_at_the_root() -> None:
    with pytest.raises(ResponseValidationError, match=r"match Invoice: <root>: Input should be"):
        validate_response(done(["not", "an", "object"]), Invoice)


def test_each_execution_is_validated_once_per_call() -> None:
    validation = Validation(Invoice)
    good = done({"total": 3, "lines": []}, "ex-2")
    accepted = validation.accept(good)
    assert validation.of(good) is accepted  # the same object: not validated again
    other = done({"total": 4, "lines": []}, "ex-3")  # served from a cache: validated by of()
    assert validation.of(other) == Invoice(total=4, lines=[])
    with pytest.raises(ResponseValidationError):
        validation.of(done({"total": "x", "lines": []}, "ex-4"))
