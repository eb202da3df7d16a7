"""The typed errors word for word: what a user reads, and what they can rely on.

``status_error_from_response`` turns every error body shape the service (or a proxy in
front of it) may send into one readable line with a hint; the error's class, body,
type, request id, Retry-After and advice after retries are what the retry layer and the
user go by. The other errors (a missing key, a connection failure, an unknown agent, a
failed execution) are pinned down message by message.
(``test_errors.py`` drives the same errors through a client.)
"""

from __future__ import annotations

import pickle
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun import (
    AgentExecution,
    AgentNotFoundError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ExecutionFailedError,
    ExecutionTimeoutError,
    InternalServerError,
    MissingAPIKeyError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
)
from langchain_vlmrun.core.errors import status_error_from_response

REQUEST = httpx.Request("GET", "https://api.test/v1/agent/executions/ex-1")

HINTS = {
    400: "The request was refused as invalid; fix what the message names.",
    401: "Check VLMRUN_API_KEY (or api_key=...) holds a valid key.",
    402: "Top up credits or upgrade the plan at https://app.vlm.run.",
    403: "This key may not use that resource; check the agent name and the key's workspace.",
    404: "Check the agent name ('name:version'), file id or execution id.",
    413: "The file is too large for a single upload; split it or use a smaller file.",
    422: "The request did not validate; fix the fields named above.",
}
RATE_LIMIT_ADVICE = (
    "Still rate limited: the account's request budget (every upload, execute and poll "
    "counts) is being spent faster than it refills, probably by several clients sharing "
    "the key: pace them with requests_per_minute (or one shared budget)."
)
SERVER_ADVICE = "VLM Run is failing on its side; try again later."


def error_for(status: int, **content: Any) -> APIStatusError:
    return status_error_from_response(httpx.Response(status, request=REQUEST, **content))


# --- classes, hints, advice -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "summary"),
    [
        (400, BadRequestError, "400 Bad Request"),
        (401, AuthenticationError, "401 Unauthorized"),
        (402, PaymentRequiredError, "402 Payment Required"),
        (403, PermissionDeniedError, "403 Forbidden"),
        (404, NotFoundError, "404 Not Found"),
        (409, ConflictError, "409 Conflict"),
        (413, RequestTooLargeError, "413 Request Entity Too Large"),
        (418, APIStatusError, "418 I'm a teapot"),
        (422, BadRequestError, "422 Unprocessable Entity"),
        (429, RateLimitError, "429 Too Many Requests"),
        (499, APIStatusError, "499 Error"),  # no reason phrase: "Error"
        (500, InternalServerError, "500 Internal Server Error"),
        (501, InternalServerError, "501 Not Implemented"),
        (503, InternalServerError, "503 Service Unavailable"),
        (599, InternalServerError, "599 Error"),
    ],
)
def test_each_status_has_its_class_message_hint_and_advice(
    status: int, cls: type[APIStatusError], summary: str
) -> None:
    error = error_for(status, json={"detail": "the server says no"})
    assert type(error) is cls
    hint = f" ({HINTS[status]})" if status in HINTS else ""
    assert str(error) == error.message == f"{summary}: the server says no{hint}"
    assert error.status_code == status and error.body == {"detail": "the server says no"}
    assert error.request is REQUEST and error.response.status_code == status
    advice = {429: RATE_LIMIT_ADVICE}.get(status, SERVER_ADVICE if status >= 500 else None)
    assert error.advice_after_retries == advice


def test_the_advice_is_added_only_once_retrying_gave_up() -> None:
    limited = error_for(429, json={"detail": "slow down"}, headers={"retry-after": "3"})
    assert RATE_LIMIT_ADVICE not in str(limited)
    limited.note_retries(4, 12.345)
    assert (
        str(limited)
        == limited.message
        == (
            "429 Too Many Requests: slow down [gave up after 4 attempts in 12.3s] "
            + RATE_LIMIT_ADVICE
        )
    )
    assert limited.args == (limited.message,)
    failing = error_for(503, text="")
    failing.note_retries(2, 0.04)
    assert (
        str(failing)
        == f"503 Service Unavailable [gave up after 2 attempts in 0.0s] {SERVER_ADVICE}"
    )
    conflict = error_for(409, json={"detail": "busy"})
    conflict.note_retries(3, 1.0)
    assert str(conflict) == "409 Conflict: busy [gave up after 3 attempts in 1.0s]"


def test_request_id_retry_after_and_type_are_kept() -> None:
    body = {"error": {"message": "Agent is archived", "type": "invalid_request", "id": "e-1"}}
    by_body = error_for(400, json=body)
    assert (by_body.type, by_body.request_id, by_body.retry_after) == (
        "invalid_request",
        "e-1",
        None,
    )
    by_header = status_error_from_response(
        httpx.Response(429, json=body, headers={"X-Request-Id": "req-7"}, request=REQUEST),
        retry_after=2.5,
    )
    assert (by_header.request_id, by_header.retry_after) == ("req-7", 2.5)
    assert error_for(500, text="oops").request_id is None


def test_a_response_without_a_request_gives_an_error_without_one() -> None:
    error = status_error_from_response(httpx.Response(401, json={"detail": "bad key"}))
    assert isinstance(error, AuthenticationError) and error.request is None
    assert str(error) == f"401 Unauthorized: bad key ({HINTS[401]})"


# --- the message from each body shape ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "error_type"),
    [
        ({"error": {"message": "Agent is archived", "type": "t"}}, "Agent is archived", "t"),
        ({"error": {"message": 0}}, "0", None),
        ({"error": {"message": None, "code": 7}}, '{"message": null, "code": 7}', None),
        ({"error": {"code": 7}}, '{"code": 7}', None),
        ({"error": "quota exceeded"}, "quota exceeded", None),
        ({"detail": "Agent not found"}, "Agent not found", None),
        (
            {
                "detail": [
                    {"loc": ["body", "inputs", 0, "file"], "msg": "field required"},
                    {"loc": ["query", "limit"], "msg": "too big"},
                    {"loc": ["body"], "msg": "empty body"},
                    {"msg": "no location"},
                    {"loc": ["body", "x"]},
                    "a bare string",
                    3,
                ]
            },
            "inputs.0.file: field required; query.limit: too big; empty body; no location; "
            "x: ; a bare string; 3",
            "validation_error",
        ),
        ({"detail": []}, None, "validation_error"),
        # a location of another shape than FastAPI's list
        ({"detail": [{"loc": None, "msg": "m"}]}, "m", "validation_error"),
        ({"detail": [{"loc": "file", "msg": "m"}]}, "file: m", "validation_error"),
        (
            {"detail": [{"loc": 5, "msg": "m"}, {"loc": {"a": 1}, "msg": "n"}]},
            "m; n",
            "validation_error",
        ),
        ({"detail": {"reason": "locked"}}, '{"reason": "locked"}', None),
        ({"detail": 12}, "12", None),
        ({"detail": None, "message": "from message"}, "from message", None),
        ({"message": "Service paused"}, "Service paused", None),
        ({"error": 5, "detail": "used instead"}, "used instead", None),
        ({"status": "down"}, '{"status": "down"}', None),
        (["a", 1], '["a", 1]', None),
        ("just a string", '"just a string"', None),
        ({}, "{}", None),
    ],
)
def test_every_error_body_shape_reads_as_one_line(
    body: Any, message: str | None, error_type: str | None
) -> None:
    error = error_for(418, json=body)
    assert str(error) == (f"418 I'm a teapot: {message}" if message else "418 I'm a teapot")
    assert error.type == error_type and error.body == body


def test_a_long_json_body_is_cut_to_500_characters() -> None:
    body = {"data": "x" * 1000}
    error = error_for(418, json=body)
    assert str(error) == "418 I'm a teapot: " + ('{"data": "' + "x" * 1000)[:500]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<html><head><title>502</title></head>\n<body><h1>Bad   Gateway</h1></body></html>",
            "502 Bad Gateway",
        ),
        ("upstream\tconnect error\n\nor disconnect", "upstream connect error or disconnect"),
        ("a<b>c</b>d", "a c d"),
        ("", None),
        ("<html>  </html>", None),
        ("y" * 400, "y" * 300),
    ],
)
def test_a_non_json_body_is_read_as_text(text: str, message: str | None) -> None:
    error = error_for(502, text=text)
    assert str(error) == (f"502 Bad Gateway: {message}" if message else "502 Bad Gateway")
    assert error.body is None and error.type is None


def test_a_body_that_is_not_utf8_is_read_as_text() -> None:
    error = error_for(500, content=b"\xff\xfe broken \xff", headers={"content-type": "text/plain"})
    assert error.body is None and "broken" in str(error)


json_bodies = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["error", "detail", "message", "loc", "msg", "x"]) | st.text(),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(body=json_bodies, status=st.sampled_from([400, 404, 409, 422, 429, 500, 502]))
def test_any_json_error_body_gives_a_typed_error_with_a_bounded_message(
    body: Any, status: int
) -> None:
    error = error_for(status, json=body)
    assert isinstance(error, APIStatusError) and error.status_code == status
    assert str(error).startswith(f"{status} ")
    assert error.body == body
    assert isinstance(error.message, str)


# --- the other errors ---------------------------------------------------------------------


def test_missing_key_messages() -> None:
    tail = (
        ": pass api_key=... or set the VLMRUN_API_KEY environment variable "
        "(create a key at https://app.vlm.run), or pass a ready client=."
    )
    named = MissingAPIKeyError("VLMRunLoader")
    assert str(named) == "VLMRunLoader needs a VLM Run API key" + tail
    assert named.component == "VLMRunLoader"
    assert str(MissingAPIKeyError()) == "No VLM Run API key" + tail
    assert str(MissingAPIKeyError("")) == "No VLM Run API key" + tail
    for error in (named, MissingAPIKeyError()):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is MissingAPIKeyError
        assert (str(copy), copy.component) == (str(error), error.component)


def test_connection_error_defaults() -> None:
    error = APIConnectionError()
    assert str(error) == "Connection error." and error.request is None
    assert error.request_sent is True and error.execution_id is None
    sent = APITimeoutError("slow", request=REQUEST)
    assert sent.request is REQUEST and sent.request_sent is True
    assert APIConnectionError(request=REQUEST, request_sent=False).request_sent is False


def test_attach_execution_says_how_to_resume_once() -> None:
    error = APIConnectionError("Connection error.")
    error.attach_execution("ex-5")
    error.attach_execution("ex-6")  # the first execution stays
    assert error.execution_id == "ex-5"
    assert str(error) == (
        "Connection error. Execution ex-5 goes on server-side: resume it with "
        "client.wait('ex-5') instead of running the file again."
    )
    unknown = error_for(404, json={"detail": "gone"})
    unknown.attach_execution("ex-7")
    assert str(unknown) == (
        f"404 Not Found: gone ({HINTS[404]}) The service does not know execution ex-7: if it "
        "was just submitted, try client.wait('ex-7') later; otherwise it has expired or "
        "belongs to another account."
    )


NOT_FOUND = httpx.Response(404, json={"detail": "Agent not found"}, request=REQUEST)
TAIL = (
    " List them with client.list_agents(), create one with client.create_agent(...), "
    "or run by prompt='...' without an agent name."
)


@pytest.mark.parametrize(
    ("existing", "suggestions", "middle"),
    [
        (
            ["invoice:v1", "receipt:v1"],
            ["invoice:v1", "invoices:v2"],
            " Closest names: 'invoice:v1', 'invoices:v2'.",
        ),
        (None, ["invoice:v1"], " Closest names: 'invoice:v1'."),
        (["a:v1", "b:v1", "c:v1"], [], " None of its 3 agents has a similar name."),
        ([], [], " The workspace has no agents yet."),
        (None, [], ""),  # the agents could not be listed
    ],
)
def test_an_unknown_agent_says_what_exists(
    existing: list[str] | None, suggestions: list[str], middle: str
) -> None:
    error = AgentNotFoundError.for_name(
        "invoce", existing=existing, suggestions=suggestions, response=NOT_FOUND
    )
    assert str(error) == "No VLM Run agent named 'invoce' in this workspace." + middle + TAIL
    assert isinstance(error, NotFoundError) and error.status_code == 404
    assert (error.name, error.suggestions) == ("invoce", suggestions)
    assert error.body == {"detail": "Agent not found"} and error.request is REQUEST


def test_an_unknown_agent_from_a_non_json_answer_has_no_body() -> None:
    response = httpx.Response(404, text="<h1>Not Found</h1>", request=REQUEST)
    error = AgentNotFoundError.for_name("x", existing=None, suggestions=[], response=response)
    assert error.body is None and error.name == "x"


def test_a_copy_of_an_unknown_agent_error_is_the_same_error_anew() -> None:
    error = AgentNotFoundError.for_name(
        "invoce", existing=["invoice:v1"], suggestions=["invoice:v1"], response=NOT_FOUND
    )
    copy = error.copy()
    assert copy is not error and type(copy) is AgentNotFoundError
    assert (str(copy), copy.message, copy.name, copy.suggestions, copy.body) == (
        str(error),
        error.message,
        "invoce",
        ["invoice:v1"],
        {"detail": "Agent not found"},
    )
    assert copy.response is NOT_FOUND and copy.status_code == 404
    copy.suggestions.append("other")  # its own list
    assert error.suggestions == ["invoice:v1"]


@pytest.mark.parametrize(
    ("usage", "status", "credits"),
    [
        ({}, "failed", "0"),
        ({"credits_used": 0}, "failed", "0"),
        ({"credits_used": 2.5, "message": "Out of memory"}, "cancelled", "2.5"),
        ({"credits_used": 3}, "failed", "3"),
    ],
)
def test_a_failed_execution_says_why_and_what_it_cost(
    usage: dict[str, Any], status: str, credits: str
) -> None:
    execution = AgentExecution.model_validate(
        {"id": "ex-3", "status": status, "usage": usage, "response": {"error": "bad page"}}
    )
    error = ExecutionFailedError(execution)
    reason = "; ".join(filter(None, [usage.get("message"), "bad page"]))
    assert str(error) == (
        f"VLM Run execution ex-3 {status}: {reason} (check the input file and the agent's "
        f"instructions; credits used: {credits})"
    )
    assert (error.execution_id, error.status, error.server_message) == ("ex-3", status, reason)
    assert error.execution is execution and error.usage is execution.usage


def test_a_timeout_says_how_to_resume() -> None:
    error = ExecutionTimeoutError(execution_id="ex-4", status="running", waited=61.26)
    assert str(error) == (
        "VLM Run execution ex-4 still 'running' after waiting 61.3s; resume with "
        "client.wait('ex-4') or raise the timeout."
    )
    assert isinstance(error, TimeoutError)
    assert (error.execution_id, error.status, error.waited) == ("ex-4", "running", 61.26)
