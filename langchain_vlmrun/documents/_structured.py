"""Validating a completed execution's response against the caller's pydantic model."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from langchain_vlmrun.core.errors import ResponseValidationError
from langchain_vlmrun.core.models import AgentExecution

__all__ = ["Validation", "validate_response"]

M = TypeVar("M", bound=BaseModel)


def validate_response(execution: AgentExecution, response_model: type[M]) -> M:
    """The response as a ``response_model`` instance.

    Raises:
        ResponseValidationError: listing each schema error, with the raw response kept.
    """
    raw: Any = execution.response
    try:
        return response_model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ResponseValidationError(
            f"Execution {execution.id} returned a response that does not match "
            f"{response_model.__name__}: {problems}. The raw response is on "
            "error.raw_response; loosen the model (Optional fields) or refine the prompt.",
            raw_response=raw,
            errors=list(exc.errors()),
            execution_id=execution.id,
            execution=execution,
        ) from None


class Validation(Generic[M]):
    """Each completed execution validated once per call: :meth:`accept` is the client's
    check before it caches a result, :meth:`of` what the caller reads afterwards; a
    result served from the cache (never accepted in this call) is validated by ``of``.
    """

    def __init__(self, response_model: type[M]) -> None:
        self.response_model = response_model
        self._done: dict[str, M] = {}

    def accept(self, execution: AgentExecution) -> M:
        value = validate_response(execution, self.response_model)
        self._done[execution.id] = value
        return value

    def of(self, execution: AgentExecution) -> M:
        found = self._done.get(execution.id)
        return found if found is not None else validate_response(execution, self.response_model)
