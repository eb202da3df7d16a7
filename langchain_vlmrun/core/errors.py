"""Typed errors. Every error the package raises derives from :class:`VLMRunError`.

The hierarchy follows openai-python: transport problems are :class:`APIConnectionError`
(and its :class:`APITimeoutError`), HTTP error statuses are :class:`APIStatusError`
subclasses, and execution outcomes are :class:`ExecutionFailedError` and
:class:`ExecutionTimeoutError`. No error ever carries the API key.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from langchain_vlmrun.core.models import AgentExecution, CreditUsage

__all__ = [
    "AgentNotFoundError",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ExecutionError",
    "ExecutionFailedError",
    "ExecutionTimeoutError",
    "FileSourceError",
    "InternalServerError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseRefusedError",
    "ResponseValidationError",
    "VLMRunError",
    "UnreadableResponseError",
    "status_error_from_response",
]


class VLMRunError(Exception):
    """Base class of every error raised by langchain-vlmrun."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingAPIKeyError(VLMRunError):
    """No API key was configured (raised when the component or client is constructed)."""

    def __init__(self, component: str | None = None) -> None:
        who = f"{component} needs a VLM Run API key" if component else "No VLM Run API key"
        super().__init__(
            f"{who}: pass api_key=... or set the VLMRUN_API_KEY environment variable "
            "(create a key at https://app.vlm.run), or pass a ready client=."
        )
        self.component = component

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.component,))


class FileSourceError(VLMRunError, ValueError):
    """A file given to upload cannot be used (missing, a directory, empty, unreadable...)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class ResponseValidationError(VLMRunError, ValueError):
    """A completed execution's response does not match the requested schema.

    ``raw_response`` keeps what the server returned; ``errors`` lists the schema errors;
    ``execution`` is the completed execution (id, usage), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        raw_response: Any,
        errors: list[Any],
        execution_id: str | None = None,
        execution: AgentExecution | None = None,
    ) -> None:
        super().__init__(message)
        self.raw_response = raw_response
        self.errors = errors
        self.execution_id = execution_id
        self.execution = execution


class APIError(VLMRunError):
    """A request to the VLM Run API did not succeed.

    ``execution_id`` is set when the error happened after an execution was created
    (while waiting for it): the execution goes on server-side, and
    ``client.wait(err.execution_id)`` resumes it without paying again.
    """

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request
        self.execution_id: str | None = None

    def _amend(self, text: str) -> None:
        self.message = f"{self.message} {text}"
        self.args = (self.message,)

    #: What to do once retrying has not helped (set for retried statuses).
    advice_after_retries: str | None = None

    def note_retries(self, attempts: int, seconds: float) -> None:
        """Say in the message that the call was tried ``attempts`` times, and what now."""
        advice = f" {self.advice_after_retries}" if self.advice_after_retries else ""
        self._amend(f"[gave up after {attempts} attempts in {seconds:.1f}s]{advice}")

    def attach_execution(self, execution_id: str) -> None:
        """Record the execution this error happened to, and say how to resume it."""
        if self.execution_id is None:
            self.execution_id = execution_id
            self._amend(self._resume_advice(execution_id))

    def _resume_advice(self, execution_id: str) -> str:
        return (
            f"Execution {execution_id} goes on server-side: resume it with "
            f"client.wait('{execution_id}') instead of running the file again."
        )


class UnreadableResponseError(APIError):
    """A 2xx answer whose body could not be read: the server may have acted on it."""


class ResponseRefusedError(APIError):
    """The client refused what a server sent: a body larger than its limit
    (``max_download_bytes`` for artifacts), a URL it does not fetch (an artifact or
    upload target that is not https, or on a loopback, private or link-local address),
    or too many redirects. Not retried: the same answer would come back.
    """


class APIConnectionError(APIError):
    """The request could not be completed at the transport level.

    ``request_sent`` is False when the server cannot have seen the request (the
    connection was never established), which makes a retry of a paid call safe.
    """

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        request: httpx.Request | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, request=request)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(APIError):
    """The API answered with an error status (4xx or 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: Any = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request=response.request if _has_request(response) else None)
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.type = error_type
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400 or 422: the request was malformed or failed validation."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PaymentRequiredError(APIStatusError):
    """402: the account is out of credits or over its quota."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""


class NotFoundError(APIStatusError):
    """404: unknown agent, file or execution."""

    def _resume_advice(self, execution_id: str) -> str:
        # the execution itself is unknown: not yet (just submitted) or no longer
        return (
            f"The service does not know execution {execution_id}: if it was just "
            f"submitted, try client.wait('{execution_id}') later; otherwise it has "
            "expired or belongs to another account."
        )


class AgentNotFoundError(NotFoundError):
    """404 for an agent name: no agent of that name in the workspace.

    ``name`` is the name asked for, ``suggestions`` the closest existing names (empty
    when none is close or they could not be listed).
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        name: str,
        suggestions: list[str],
        body: Any = None,
    ) -> None:
        super().__init__(message, response=response, body=body)
        self.name = name
        self.suggestions = suggestions

    def copy(self) -> AgentNotFoundError:
        """The same error as a new exception (one raise per caller, own traceback)."""
        return AgentNotFoundError(
            self.message,
            response=self.response,
            name=self.name,
            suggestions=list(self.suggestions),
            body=self.body,
        )

    @classmethod
    def for_name(
        cls,
        name: str,
        *,
        existing: list[str] | None,
        suggestions: list[str],
        response: httpx.Response,
    ) -> AgentNotFoundError:
        """The error for ``name``, saying what exists (``existing`` None: not listed)."""
        text = f"No VLM Run agent named {name!r} in this workspace."
        if suggestions:
            text += " Closest names: " + ", ".join(repr(s) for s in suggestions) + "."
        elif existing:
            text += f" None of its {len(existing)} agents has a similar name."
        elif existing is not None:
            text += " The workspace has no agents yet."
        text += (
            " List them with client.list_agents(), create one with client.create_agent(...), "
            "or run by prompt='...' without an agent name."
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        return cls(text, response=response, name=name, suggestions=suggestions, body=body)


class ConflictError(APIStatusError):
    """409: conflicting request (retried automatically)."""


class RequestTooLargeError(APIStatusError):
    """413: the upload is larger than the server accepts."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds."""


class InternalServerError(APIStatusError):
    """5xx: the service failed."""


_HINTS: dict[int, str] = {
    400: "The request was refused as invalid; fix what the message names.",
    422: "The request did not validate; fix the fields named above.",
    401: "Check VLMRUN_API_KEY (or api_key=...) holds a valid key.",
    402: "Top up credits or upgrade the plan at https://app.vlm.run.",
    403: "This key may not use that resource; check the agent name and the key's workspace.",
    404: "Check the agent name ('name:version'), file id or execution id.",
    413: "The file is too large for a single upload; split it or use a smaller file.",
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - property raises when unset
    except RuntimeError:
        return False
    return True


#: A tag: no ``<`` inside, so each ``<`` is looked at once (``<[^>]+>`` takes quadratic
#: time on a body of ``<<<<...``).
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")


def _location(loc: Any) -> str:
    """Where a FastAPI validation error points (``["body", "inputs", 0]`` reads
    ``inputs.0``); a text is kept as it is, any other shape is left out."""
    if isinstance(loc, list):
        return ".".join(str(p) for p in loc if p != "body")
    return loc if isinstance(loc, str) else ""


def _message_from_body(body: Any, text: str) -> tuple[str | None, str | None, str | None]:
    """Return (message, type, id) from either error body shape, or readable text."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            return (
                str(message) if message is not None else json.dumps(error),
                error.get("type"),
                error.get("id"),
            )
        if isinstance(error, str):
            return error, None, None
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail, None, None
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = _location(item.get("loc"))
                    msg = item.get("msg", "")
                    parts.append(f"{loc}: {msg}" if loc else str(msg))
                else:
                    parts.append(str(item))
            return "; ".join(parts), "validation_error", None
        if detail is not None:
            return json.dumps(detail), None, None
        if "message" in body:
            return str(body["message"]), None, None
    if body is not None:
        return json.dumps(body)[:500], None, None
    readable = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    return (readable[:300] or None), None, None


def status_error_from_response(
    response: httpx.Response, *, retry_after: float | None = None
) -> APIStatusError:
    """Build the typed error for an HTTP error response (JSON or not)."""
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    message, error_type, error_id = _message_from_body(body, response.text)
    status = response.status_code
    summary = f"{status} {response.reason_phrase or 'Error'}"
    text = f"{summary}: {message}" if message else summary
    hint = _HINTS.get(status)
    if hint:
        text = f"{text} ({hint})"
    cls = _STATUS_CLASSES.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    error = cls(
        text,
        response=response,
        body=body,
        error_type=error_type,
        request_id=response.headers.get("x-request-id") or error_id,
        retry_after=retry_after,
    )
    error.advice_after_retries = _ADVICE_AFTER_RETRIES.get(status) or (
        _ADVICE_AFTER_RETRIES[500] if status >= 500 else None
    )
    return error


#: Said only once the retry budget is spent (while retrying, it would be wrong advice).
_ADVICE_AFTER_RETRIES: dict[int, str] = {
    429: (
        "Still rate limited: the account's request budget (every upload, execute and "
        "poll counts) is being spent faster than it refills, probably by several clients "
        "sharing the key: pace them with requests_per_minute (or one shared budget)."
    ),
    500: "VLM Run is failing on its side; try again later.",
}


class ExecutionError(VLMRunError):
    """Base class of execution outcome errors; carries the execution id."""

    def __init__(self, message: str, *, execution_id: str, status: str | None) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.status = status


class ExecutionFailedError(ExecutionError):
    """The execution ended ``failed`` (or ``cancelled``).

    ``server_message`` is the server's explanation, ``usage`` the credits it consumed.
    """

    def __init__(self, execution: AgentExecution) -> None:
        self.execution = execution
        self.server_message = execution.failure_message()
        self.usage: CreditUsage = execution.usage
        super().__init__(
            f"VLM Run execution {execution.id} {execution.status}: {self.server_message} "
            "(check the input file and the agent's instructions; credits used: "
            f"{execution.usage.credits_used or 0})",
            execution_id=execution.id,
            status=execution.status,
        )


class ExecutionTimeoutError(ExecutionError, TimeoutError):
    """Waiting gave up before the execution finished.

    The execution keeps running server-side: resume with ``client.wait(err.execution_id)``.
    """

    def __init__(self, *, execution_id: str, status: str | None, waited: float) -> None:
        super().__init__(
            f"VLM Run execution {execution_id} still '{status}' after waiting {waited:.1f}s; "
            f"resume with client.wait('{execution_id}') or raise the timeout.",
            execution_id=execution_id,
            status=status,
        )
        self.waited = waited
