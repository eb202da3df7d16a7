"""The chat endpoint: ``POST /v1/openai/chat/completions`` (VLM Run's OpenAI-compatible
chat), as JSON or SSE.

What is emulated (from VLM Run's SDK 0.9.2 ``cli/_cli/chat.py``, ``types`` and docs):

- models ``vlmrun-orion-<n>[:lite|:fast|:auto|:pro]``; content parts ``text``,
  ``image_url``, ``video_url``, ``audio_url``, ``file_url`` (``{"url"}``) and
  ``input_file`` (``file_id`` of an uploaded file: an unknown id is a 404);
- ``response_format`` only in VLM Run's shape ``{"type": "json_schema", "schema": {...}}``
  (OpenAI's ``json_schema.name`` wrapper is a 422); the answer conforms to the schema
  (``content.schema_content``, shaped by the input files' media);
- the extra body fields ``session_id``, ``skills``, ``toolsets``, ``metadata``,
  ``models``, ``preview`` (accepted); the answer's top-level ``session_id`` (the one
  sent, else a new one) and ``usage.credits_used``;
- ``stop`` (the answer is cut before the first stop string), ``max_tokens`` (words
  beyond it are cut, ``finish_reason: "length"``);
- SSE: one chunk per word, every chunk with ``session_id``; usage on a trailing
  ``choices: []`` chunk when ``stream_options.include_usage``, else on the last chunk;
- bad bodies: FastAPI 422 ``{"detail": [{"loc", "msg", "type"}]}``.

``tools`` are accepted and never called (whether the service calls tools is not
documented).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .content import Inputs, media_kind, schema_content

__all__ = ["ChatInvalid", "answer_chat"]

MODEL = re.compile(r"^vlmrun-orion-\d+(:(lite|fast|auto|pro))?$")
PART_TYPES = ("text", "image_url", "video_url", "audio_url", "file_url", "input_file")
ROLES = ("system", "developer", "user", "assistant", "tool")
EXTRA_FIELDS = ("session_id", "skills", "toolsets", "metadata", "models", "preview")


class ChatInvalid(ValueError):
    """A 422 (``detail`` is FastAPI's list), or another status with a text detail."""

    def __init__(self, detail: Any, status: int = 422) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.status = status


def _invalid(loc: list[str | int], msg: str, typ: str) -> ChatInvalid:
    return ChatInvalid([{"loc": ["body", *loc], "msg": msg, "type": typ}])


def _check_part(part: Any, loc: list[str | int]) -> None:
    if not isinstance(part, Mapping):
        raise _invalid(loc, "Input should be a valid dictionary", "dict_type")
    kind = part.get("type")
    if kind not in PART_TYPES:
        expected = ", ".join(f"'{t}'" for t in PART_TYPES)
        raise _invalid([*loc, "type"], f"Input should be {expected}", "literal_error")
    if kind == "input_file":
        if not part.get("file_id") and not part.get("file_url"):
            raise _invalid(loc, "Value error, Must have either file_id or file_url", "value_error")
        return
    inner = part.get(kind)
    if kind == "text":
        if not isinstance(inner, str):
            raise _invalid([*loc, "text"], "Input should be a valid string", "string_type")
        return
    url = inner.get("url") if isinstance(inner, Mapping) else None
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise _invalid(
            [*loc, kind, "url"],
            "Input should be a valid URL, relative URL without a base",
            "url_parsing",
        )


def _check(body: Any) -> None:
    if not isinstance(body, Mapping):
        raise ChatInvalid(
            [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
        )
    model = body.get("model")
    if not isinstance(model, str):
        raise _invalid(["model"], "Field required", "missing")
    if not MODEL.match(model):
        raise ChatInvalid(f"Model {model!r} not found", status=404)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid(["messages"], "List should have at least 1 item", "too_short")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise _invalid(["messages", i], "Input should be a valid dictionary", "dict_type")
        if message.get("role") not in ROLES:
            raise _invalid(["messages", i, "role"], "Input should be a valid role", "enum")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                _check_part(part, ["messages", i, "content", j])
        elif content is not None and not isinstance(content, str):
            raise _invalid(
                ["messages", i, "content"], "Input should be a valid string", "string_type"
            )
    response_format = body.get("response_format")
    if response_format is not None:
        if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
            raise _invalid(
                ["response_format", "type"], "Input should be 'json_schema'", "literal_error"
            )
        if not isinstance(response_format.get("schema"), Mapping):
            raise _invalid(["response_format", "schema"], "Field required", "missing")
    for name in ("stream",):
        if name in body and not isinstance(body[name], bool):
            raise _invalid([name], "Input should be a valid boolean", "bool_type")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise _invalid(["max_tokens"], "Input should be greater than 0", "greater_than")


def _words(text: str) -> int:
    return len(text.split())


def _answer_text(question: str, files: list[str]) -> str:
    if not files:
        return f"You asked: {question.strip()[:200]} This is the emulated Orion answer."
    described = []
    for name in files:
        kind = media_kind(name) or "file"
        what = {
            "image": "an image with printed text: a receipt total of $42.17",
            "audio": "a recording of two speakers agreeing to ship on Friday",
            "video": "a video of a short product demo",
            "document": "a document of two pages about quarterly results",
        }.get(kind, "a file")
        described.append(f"{name} is {what}.")
    return " ".join(described) + f" Answering: {question.strip()[:200]}"


def answer_chat(
    raw: bytes,
    file_name: Callable[[str], str | None],
) -> tuple[int, bytes, str]:
    """Status, body and content type of the answer to one chat request.

    ``file_name`` gives the uploaded file's name for an id (None: unknown)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ChatInvalid(
            [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]
        ) from None
    _check(body)
    files: list[str] = []
    question = ""
    prompt_words = 0
    for i, message in enumerate(body["messages"]):
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for j, part in enumerate(parts):
            kind = part["type"]
            if kind == "text":
                prompt_words += _words(part["text"])
                if message["role"] == "user":
                    question = part["text"]
            elif kind == "input_file" and part.get("file_id"):
                name = file_name(str(part["file_id"]))
                if name is None:
                    raise ChatInvalid(f"File {part['file_id']} not found", status=404)
                files.append(name)
                prompt_words += 100
            else:
                url = (part.get(kind) or part.get("file_url") or {}).get("url", "")
                files.append(url.rsplit("/", 1)[-1].split("?")[0] or "file")
                prompt_words += 100
                del j
        del i
    response_format = body.get("response_format")
    if response_format is not None:
        content = json.dumps(schema_content(response_format["schema"], Inputs(files)))
    else:
        content = _answer_text(question, list(dict.fromkeys(files)))
    finish_reason = "stop"
    stops = body.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or []:
        if isinstance(stop, str) and stop and stop in content:
            content = content[: content.index(stop)]
    max_tokens = body.get("max_tokens")
    if response_format is None and max_tokens is not None and _words(content) > max_tokens:
        content = " ".join(content.split()[:max_tokens])
        finish_reason = "length"
    completion = max(1, _words(content))
    usage = {
        "prompt_tokens": max(1, prompt_words),
        "completion_tokens": completion,
        "total_tokens": max(1, prompt_words) + completion,
        "credits_used": 1 + len(files),
    }
    session_id = body.get("session_id") or str(uuid.uuid4())
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "created": int(time.time()),
        "model": body["model"],
        "session_id": session_id,
    }
    if not body.get("stream"):
        answer = {
            **base,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        return 200, json.dumps(answer).encode(), "application/json"
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    pieces = re.findall(r"\S+\s*|\s+", content) or [""]
    events: list[dict[str, Any]] = []
    for n, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if n == 0 else {"content": piece}
        events.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    last: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}
    if include_usage:
        events += [last, {"choices": [], "usage": usage}]
    else:
        events.append({**last, "usage": usage})
    lines = [
        f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', **event})}\n\n"
        for event in events
    ]
    lines.append("data: [DONE]\n\n")
    return 200, "".join(lines).encode(), "text/event-stream"
