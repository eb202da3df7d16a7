"""``ChatVLMRun``: VLM Run's Orion models as a LangChain chat model.

Built on langchain-openai's ``BaseChatOpenAI`` (as LangChain's DeepSeek and xAI chat
models are), pinned to the Chat Completions API that VLM Run serves at
``{base_url}/openai/chat/completions``. What differs from OpenAI is done here:

- settings: the same names as every other component of this package
  (``api_key``/``vlmrun_api_key``, ``base_url``/``vlmrun_base_url``, ``timeout``,
  ``max_retries``, ``requests_per_minute``);
- content: LangChain's standard blocks become VLM Run's parts; local files and inline
  bytes are uploaded through the files API and sent as ``input_file`` by id
  (``langchain_vlmrun.chat._content``);
- structured output: ``response_format`` in VLM Run's shape
  ``{"type": "json_schema", "schema": {...}}``;
- the answer's ``session_id`` and credits land in ``response_metadata``.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal, cast

import httpx
import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams, LanguageModelInput, ModelProfile
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_vlmrun._version import __version__
from langchain_vlmrun.chat._content import Upload, planned_uploads, translate_messages
from langchain_vlmrun.client._budget import RequestBudget
from langchain_vlmrun.client._client import DEFAULT_BASE_URL, AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun.client._registry import ARTIFACT_ID
from langchain_vlmrun.client._settings import ClientSettings, ServiceSettings
from langchain_vlmrun.client.artifacts import ArtifactBlob, artifact_ids
from langchain_vlmrun.core._validation import reject_unknown
from langchain_vlmrun.core.errors import MissingAPIKeyError
from langchain_vlmrun.files._confinement import normalise_roots, open_confined

__all__ = ["DEFAULT_CHAT_TIMEOUT", "DEFAULT_MODEL", "ChatVLMRun", "vlmrun_response_format"]

DEFAULT_MODEL = "vlmrun-orion-1:auto"
#: Seconds one chat request may take by default (as VLM Run's SDK: at least 600).
DEFAULT_CHAT_TIMEOUT = 600.0
#: Uploads remembered per model (path or bytes -> file id), oldest forgotten first.
_FILE_ID_ENTRIES = 1024
#: Body fields of VLM Run's chat API besides OpenAI's: model field -> body key.
_BODY_FIELDS = {
    "session_id": "session_id",
    "skills": "skills",
    "toolsets": "toolsets",
    "request_metadata": "metadata",
}


#: An artifact id inside an answer's text (a word of its own).
_ARTIFACT_IN_TEXT = re.compile(rf"\b(?:{ARTIFACT_ID.pattern})\b")


def vlmrun_response_format(response_format: Any) -> dict[str, Any] | None:
    """``response_format`` in VLM Run's shape ``{"type": "json_schema", "schema": ...}``.

    Takes a pydantic class, a TypedDict or JSON schema, OpenAI's
    ``{"type": "json_schema", "json_schema": {"name", "schema", ...}}``, VLM Run's own
    shape, or ``{"type": "json_object"}`` (any JSON object). ``{"type": "text"}`` is
    no format (None).

    Example:
        >>> vlmrun_response_format({"type": "json_schema", "json_schema": {
        ...     "name": "Invoice", "schema": {"type": "object"}, "strict": True}})
        {'type': 'json_schema', 'schema': {'type': 'object'}}
    """
    if response_format is None:
        return None
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        if kind == "text":
            return None
        if kind == "json_object":
            return {"type": "json_schema", "schema": {"type": "object"}}
        if kind == "json_schema":
            if isinstance(response_format.get("schema"), Mapping):
                return {"type": "json_schema", "schema": dict(response_format["schema"])}
            inner = response_format.get("json_schema")
            if isinstance(inner, Mapping) and isinstance(inner.get("schema"), Mapping):
                return {"type": "json_schema", "schema": dict(inner["schema"])}
            raise ValueError(
                "response_format of type json_schema needs a 'schema' (or OpenAI's "
                "'json_schema': {'schema': ...})."
            )
    return {"type": "json_schema", "schema": convert_to_json_schema(response_format)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


# -- the request budget, for the chat requests too ---------------------------------------


def _with_defaults(client: Any, request: httpx.Request) -> httpx.Request:
    """``request`` with ``client``'s default headers where it has none of its own (as
    the client's ``build_request`` would have set them)."""
    for name, value in client.headers.items():
        if name not in request.headers:
            request.headers[name] = value
    return request


class _Sending(httpx.BaseTransport):
    """The user's own ``http_client`` as a transport: each request goes out through it
    (its proxy, TLS settings, limits, headers, auth and event hooks), after the
    budget's wait."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = self.client.send(_with_defaults(self.client, request), stream=True)
        return cast(httpx.Response, sent)

    def close(self) -> None:
        """The user's client stays open: it is theirs to close."""


class _AsyncSending(httpx.AsyncBaseTransport):
    """:class:`_Sending` for the async client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = await self.client.send(_with_defaults(self.client, request), stream=True)
        return cast(httpx.Response, sent)

    async def aclose(self) -> None:
        """The user's client stays open: it is theirs to close."""


def _same_library(client: Any) -> Any:
    """The module (``httpx``, or the ``httpx2`` of newer openai releases) whose client
    ``client`` is: a wrapper must be of the same kind to carry its requests."""
    name = type(client).__module__.split(".")[0]
    return sys.modules.get(name, httpx) if name.startswith("httpx") else httpx


def _plain_timeout(timeout: Any) -> Any:
    """An ``httpx.Timeout`` as a 4-tuple, which both httpx and the ``httpx2`` of newer
    openai releases take (the latter refuses httpx's own ``Timeout`` object)."""
    if isinstance(timeout, httpx.Timeout):
        return (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return timeout


class _BudgetTransport(httpx.BaseTransport):
    """Waits for the request budget before each request (the sync OpenAI client)."""

    def __init__(self, budget: RequestBudget, inner: httpx.BaseTransport) -> None:
        self.budget, self.inner = budget, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        delay = self.budget.reserve()
        if delay > 0:
            time.sleep(delay)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class _AsyncBudgetTransport(httpx.AsyncBaseTransport):
    """Waits for the request budget before each request (the async OpenAI client)."""

    def __init__(self, budget: RequestBudget, inner: httpx.AsyncBaseTransport) -> None:
        self.budget, self.inner = budget, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        delay = self.budget.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- streaming: each non-standard value once ----------------------------------------------


class _StreamTail:
    """Keeps ``session_id`` and credits off the streamed chunks and puts them on one
    final chunk: LangChain concatenates equal strings and refuses unequal floats when
    chunks are added up, so each may appear on one chunk only."""

    def __init__(self) -> None:
        self.session_id: Any = None
        self.credits: Any = None

    def take(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        metadata = chunk.message.response_metadata
        session_id = metadata.pop("session_id", None)
        credits = metadata.pop("credits_used", None)
        if self.session_id is None and session_id:
            self.session_id = session_id
        if credits is not None:
            self.credits = credits
        return chunk

    def final(self) -> ChatGenerationChunk | None:
        metadata: dict[str, Any] = {}
        if self.session_id is not None:
            metadata["session_id"] = self.session_id
        if self.credits is not None:
            metadata["credits_used"] = self.credits
        if not metadata:
            return None
        metadata["model_provider"] = "vlmrun"
        return ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata=metadata))


def _vlmrun_extras(response: Any) -> dict[str, Any]:
    """``session_id`` and credits (``credits_used`` or ``credits``) of an answer (a
    streamed chunk's dict, or the OpenAI SDK's model of a whole answer)."""
    raw = response.model_dump() if isinstance(response, openai.BaseModel) else response
    extras: dict[str, Any] = {}
    if raw.get("session_id"):
        extras["session_id"] = raw["session_id"]
    usage = raw.get("usage")
    if isinstance(usage, Mapping):
        credits = usage.get("credits_used")
        if credits is None:
            credits = usage.get("credits")
        if credits is not None:
            extras["credits_used"] = credits
    return extras


def _with_detail(exc: openai.APIStatusError) -> None:
    """Put FastAPI's ``detail`` (VLM Run's error bodies) into the message: the OpenAI
    SDK only shows an OpenAI-style ``error`` and says "Error code: 422" otherwise."""
    body = exc.body
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if detail is None or "detail" in exc.message:
        return
    if isinstance(detail, list):
        shown = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg')}"
            if isinstance(item, Mapping)
            else str(item)
            for item in detail[:10]
        )
    else:
        shown = str(detail)
    exc.message = f"{exc.message} - detail: {shown[:2000]}"
    exc.args = (exc.message, *exc.args[1:])


class ChatVLMRun(ServiceSettings, BaseChatOpenAI):
    """VLM Run's Orion models (``vlmrun-orion-1[:lite|:fast|:auto|:pro]``) as a chat model.

    Setup:
        ``pip install 'langchain-vlmrun[chat]'`` and set ``VLMRUN_API_KEY``.

    Key init args:
        model: ``vlmrun-orion-1:auto`` by default.
        api_key: alias of ``vlmrun_api_key``; default ``VLMRUN_API_KEY``.
        base_url: alias of ``vlmrun_base_url``; default ``VLMRUN_BASE_URL`` or
            ``https://api.vlm.run/v1`` (requests go to ``{base_url}/openai/chat/completions``).
        timeout: seconds per chat request (default 600); ``max_retries``;
            ``requests_per_minute`` (one budget for chat requests and uploads).
        session_id, skills, toolsets, request_metadata: VLM Run's extra body fields
            (``request_metadata`` is sent as ``metadata``); also per call, e.g.
            ``invoke(msgs, session_id=...)``.
        root_dir: when set, local files in messages must lie inside it (or them).

    Multimodal input uses LangChain's standard content blocks; a block with a local
    ``path`` (or a ``url`` that is a local path or ``file://``) or with ``base64``
    data is uploaded once and sent by file id.

    Example:
        >>> from langchain_vlmrun.chat import ChatVLMRun
        >>> llm = ChatVLMRun(api_key="vlm-...")
        >>> llm.model_name
        'vlmrun-orion-1:auto'
        >>> msg = llm.invoke([("human", [  # doctest: +SKIP
        ...     {"type": "text", "text": "What is the total?"},
        ...     {"type": "image", "path": "receipt.png"},
        ... ])])
    """

    model_name: str = Field(default=DEFAULT_MODEL, alias="model")
    """The model: ``vlmrun-orion-1`` with ``:lite``, ``:fast``, ``:auto`` or ``:pro``."""
    # the key and the endpoint: ServiceSettings' (vlmrun_api_key / vlmrun_base_url)
    # OpenAI's key and endpoint are never used (nor read from OPENAI_* variables)
    openai_api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    openai_api_base: str | None = Field(default=None, exclude=True, repr=False)
    requests_per_minute: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Client-side request budget, shared by the chat requests and the uploads."""
    session_id: str | None = None
    """Chat session: the artifacts the model makes are kept under it."""
    skills: list[Any] | None = None
    """VLM Run skills (``SkillReference``, ``InlineSkill`` or their JSON)."""
    toolsets: list[str] | None = None
    """Tool categories the model may use (``core``, ``image``, ``document``, ...)."""
    request_metadata: dict[str, Any] | None = None
    """Sent as the request body's ``metadata`` (LangChain's own ``metadata`` is for
    tracing)."""
    root_dir: str | list[str] | None = None
    """Folder(s) local files in messages must lie in (checked, no link followed);
    ``None``: any path the application puts in a message."""
    vlmrun_client: VLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A ready sync client for the uploads (else one is made from these settings)."""
    vlmrun_async_client: AsyncVLMRunClient | None = Field(default=None, exclude=True, repr=False)
    """A ready async client for the uploads."""

    _settings: ClientSettings | None = PrivateAttr(default=None)
    _file_ids: dict[str, str] = PrivateAttr(default_factory=dict)

    # -- construction --------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def build_extra(cls, values: dict[str, Any]) -> Any:
        """Unknown arguments are an error with a did-you-mean hint (extra body fields
        go in ``extra_body``, other OpenAI parameters in ``model_kwargs``)."""
        if isinstance(values, dict):
            known: set[str] = set()
            for name, info in cls.model_fields.items():
                known.add(name)
                if isinstance(info.alias, str):
                    known.add(info.alias)
            reject_unknown(cls.__name__, [k for k in values if k not in known], sorted(known))
            for alias, name in (("api_key", "vlmrun_api_key"), ("base_url", "vlmrun_base_url")):
                if alias in values and name in values:
                    raise TypeError(
                        f"{cls.__name__}: pass {alias}= or {name}=, not both "
                        "(they are one setting)."
                    )
            key = values.get("api_key", values.get("vlmrun_api_key"))
            if key is not None and not isinstance(key, (str, SecretStr)):
                raise TypeError(
                    f"{cls.__name__}: api_key must be a str or SecretStr, not "
                    f"{type(key).__name__} (its value is not shown)."
                )
        return values

    @model_validator(mode="after")
    def _set_vlmrun_version(self) -> Self:
        self._add_version("langchain-vlmrun", __version__)
        return self

    @model_validator(mode="after")
    def validate_environment(self) -> Self:
        """Make the OpenAI clients for ``{base_url}/openai`` and the upload settings
        (replaces the parent's: no OpenAI key, proxy or gateway is ever used)."""
        if self.n is not None and self.n < 1:
            raise ValueError("n must be at least 1.")
        if self.n is not None and self.n > 1 and self.streaming:
            raise ValueError("n must be 1 when streaming.")
        given = self.vlmrun_client or self.vlmrun_async_client
        key = self.vlmrun_api_key
        if (key is None or not key.get_secret_value()) and given is not None:
            key = given.api_key
        if key is None or not key.get_secret_value():
            raise MissingAPIKeyError(type(self).__name__)
        base_url = (
            self.vlmrun_base_url or (given.base_url if given else None) or DEFAULT_BASE_URL
        ).rstrip("/")
        timeout = _plain_timeout(
            DEFAULT_CHAT_TIMEOUT if self.request_timeout is None else self.request_timeout
        )
        settings: dict[str, Any] = {
            "vlmrun_api_key": key,
            "vlmrun_base_url": base_url,
            "client": self.vlmrun_client,
            "async_client": self.vlmrun_async_client,
        }
        if self.vlmrun_client is None or self.vlmrun_async_client is None:
            if isinstance(self.request_timeout, (int, float)):
                settings["request_timeout"] = float(self.request_timeout)
            if self.max_retries is not None:
                settings["max_retries"] = self.max_retries
            if self.requests_per_minute is not None:
                settings["requests_per_minute"] = self.requests_per_minute
        self._settings = ClientSettings.model_validate(settings)
        budget = self._settings.client_options().get("budget")
        client_params: dict[str, Any] = {
            "api_key": key.get_secret_value(),
            "base_url": f"{base_url}/openai",
            "timeout": timeout,
            "default_headers": {
                "X-Client-Id": f"langchain-vlmrun-{__version__}",
                **(self.default_headers or {}),
            },
            "default_query": self.default_query,
        }
        if self.max_retries is not None:
            client_params["max_retries"] = self.max_retries
        if not self.client:
            http_client = self.http_client
            if budget is not None:  # the user's own client (if any) still sends
                given, library = http_client, _same_library(http_client)
                http_client = library.Client(
                    transport=_BudgetTransport(
                        budget, _Sending(given) if given else httpx.HTTPTransport()
                    ),
                    timeout=given.timeout if given else timeout,
                )
            self.root_client = openai.OpenAI(**client_params, http_client=http_client)
            self.client = self.root_client.chat.completions
        if not self.async_client:
            http_async_client = self.http_async_client
            if budget is not None:
                given, library = http_async_client, _same_library(http_async_client)
                http_async_client = library.AsyncClient(
                    transport=_AsyncBudgetTransport(
                        budget, _AsyncSending(given) if given else httpx.AsyncHTTPTransport()
                    ),
                    timeout=given.timeout if given else timeout,
                )
            self.root_async_client = openai.AsyncOpenAI(
                **client_params, http_client=http_async_client
            )
            self.async_client = self.root_async_client.chat.completions
        if self.stream_usage is None:
            self.stream_usage = True
        return self

    # -- identity ------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "chat-vlmrun"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"vlmrun_api_key": "VLMRUN_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return False

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "vlmrun"
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        return ModelProfile(
            max_output_tokens=32768,
            text_inputs=True,
            image_inputs=True,
            image_url_inputs=True,
            pdf_inputs=True,
            audio_inputs=True,
            video_inputs=True,
            text_outputs=True,
            structured_output=True,
            temperature=True,
        )

    def _use_responses_api(self, payload: dict[str, Any]) -> bool:
        """Never: VLM Run serves Chat Completions only."""
        return False

    # -- uploads -------------------------------------------------------------------------

    def _client_settings(self) -> ClientSettings:
        assert self._settings is not None  # set by validate_environment
        return self._settings

    def _remember(self, upload: Upload, file_id: str | None) -> str:
        if not file_id:
            raise ValueError(f"The upload of {upload.filename or upload.path} returned no file id.")
        if len(self._file_ids) >= _FILE_ID_ENTRIES:
            self._file_ids.pop(next(iter(self._file_ids)))
        self._file_ids[upload.key] = file_id
        return file_id

    def _upload(self, upload: Upload) -> str:
        """Upload one file (or bytes) with the sync client; its file id."""
        if upload.key in self._file_ids:
            return self._file_ids[upload.key]
        client = self._client_settings()._sync_client()
        if upload.data is not None:
            response = client.upload_file(upload.data, filename=upload.filename)
        elif self.root_dir is not None:
            prepared = open_confined(str(upload.path), normalise_roots(self.root_dir))
            try:
                response = client.upload_file(cast(Any, prepared))
            finally:
                if not isinstance(prepared, str):
                    prepared.close()
        else:
            assert upload.path is not None
            response = client.upload_file(upload.path)
        return self._remember(upload, response.id)

    async def _aupload(self, upload: Upload) -> str:
        """Upload one file (or bytes) with the async client; its file id."""
        if upload.key in self._file_ids:
            return self._file_ids[upload.key]
        client = self._client_settings()._async_client()
        if upload.data is not None:
            response = await client.upload_file(upload.data, filename=upload.filename)
        elif self.root_dir is not None:
            roots = normalise_roots(self.root_dir)
            prepared = await asyncio.to_thread(open_confined, str(upload.path), roots)
            try:
                response = await client.upload_file(cast(Any, prepared))
            finally:
                if not isinstance(prepared, str):
                    prepared.close()
        else:
            assert upload.path is not None
            response = await client.upload_file(upload.path)
        return self._remember(upload, response.id)

    def upload_files(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """``messages`` with their local files and inline data uploaded and referenced
        by file id (done by every call; use it to upload ahead of time)."""
        for upload in planned_uploads(messages):
            self._upload(upload)
        return translate_messages(messages, self._upload)

    async def aupload_files(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """Async :meth:`upload_files`."""
        for upload in planned_uploads(messages):
            await self._aupload(upload)
        return translate_messages(messages, self._upload)

    # -- requests ------------------------------------------------------------------------

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for name, body_key in _BODY_FIELDS.items():
            value = kwargs.pop(name, None)
            if value is None:
                value = getattr(self, name)
            if value is not None:
                extra[body_key] = _jsonable(value)
        response_format = kwargs.pop("response_format", None)
        if response_format is None:
            response_format = self.model_kwargs.get("response_format")
        messages = translate_messages(self._convert_input(input_).to_messages(), self._upload)
        payload = super()._get_request_payload(messages, stop=stop, **kwargs)
        payload.pop("response_format", None)
        converted = vlmrun_response_format(response_format)
        if converted is not None:
            extra["response_format"] = converted
        if extra:
            # in the body as it is: the OpenAI SDK would rewrite response_format (and
            # route through its parsing helpers) and refuses unknown arguments
            payload["extra_body"] = {**(payload.get("extra_body") or {}), **extra}
        return payload

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        messages = self.upload_files(messages)
        try:
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except openai.APIStatusError as exc:
            _with_detail(exc)
            raise

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        messages = await self.aupload_files(messages)
        try:
            return await super()._agenerate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except openai.APIStatusError as exc:
            _with_detail(exc)
            raise

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        messages = self.upload_files(messages)
        tail = _StreamTail()
        try:
            for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs):
                yield tail.take(chunk)
        except openai.APIStatusError as exc:
            _with_detail(exc)
            raise
        last = tail.final()
        if last is not None:
            if run_manager:
                run_manager.on_llm_new_token("", chunk=last)
            yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        messages = await self.aupload_files(messages)
        tail = _StreamTail()
        try:
            async for chunk in super()._astream(
                messages, stop=stop, run_manager=run_manager, **kwargs
            ):
                yield tail.take(chunk)
        except openai.APIStatusError as exc:
            _with_detail(exc)
            raise
        last = tail.final()
        if last is not None:
            if run_manager:
                await run_manager.on_llm_new_token("", chunk=last)
            yield last

    # -- answers -------------------------------------------------------------------------

    def _create_chat_result(
        self,
        response: dict[str, Any] | openai.BaseModel,
        generation_info: dict[str, Any] | None = None,
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        extras = {"model_provider": "vlmrun", **_vlmrun_extras(response)}
        for generation in result.generations:
            generation.message.response_metadata.update(extras)
        if result.llm_output is not None:
            result.llm_output.update(extras)
        return result

    def _convert_chunk_to_generation_chunk(
        self,
        chunk: dict[str, Any],
        default_chunk_class: type,
        base_generation_info: dict[str, Any] | None,
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(
            chunk, default_chunk_class, base_generation_info
        )
        if generation is None:
            return None
        metadata = generation.message.response_metadata
        metadata["model_provider"] = "vlmrun"
        metadata.update(_vlmrun_extras(chunk))  # moved onto one chunk by _StreamTail
        return generation

    # -- structured output ---------------------------------------------------------------

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        tools: list[Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """A runnable answering with ``schema`` (a pydantic class, a TypedDict or a JSON
        schema): a pydantic object, else a dict.

        ``method="json_schema"`` (the default) sends VLM Run's ``response_format``
        (``{"type": "json_schema", "schema": ...}``); ``json_mode`` asks for any JSON
        object; ``function_calling`` uses OpenAI-style tools, which VLM Run does not
        document. ``include_raw=True`` gives ``{"raw", "parsed", "parsing_error"}``.
        ``strict`` is recorded for tracing; VLM Run has no strict mode.
        """
        if method != "json_schema":
            return super().with_structured_output(
                cast(Any, schema),
                method=method,
                include_raw=include_raw,
                strict=strict,
                tools=tools,
                **kwargs,
            )
        if schema is None:
            raise ValueError("schema must be given for method='json_schema'.")
        if tools:
            raise ValueError(
                "ChatVLMRun.with_structured_output(method='json_schema') takes no tools."
            )
        json_schema = convert_to_json_schema(cast(Any, schema))
        llm = self.bind(
            response_format={"type": "json_schema", "schema": json_schema},
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": json_schema,
            },
            **kwargs,
        )
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and is_basemodel_subclass(schema):
            parser = PydanticOutputParser(pydantic_object=schema)
        else:
            parser = JsonOutputParser()
        if include_raw:
            parser_assign = RunnablePassthrough.assign(
                parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
            )
            parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
            parser_with_fallback = parser_assign.with_fallbacks(
                [parser_none], exception_key="parsing_error"
            )
            return RunnableMap(raw=llm) | parser_with_fallback
        return llm | parser

    # -- artifacts -----------------------------------------------------------------------

    def artifacts(
        self, message: BaseMessage, *, directory: str | os.PathLike[str] | None = None
    ) -> list[ArtifactBlob]:
        """The artifacts an answer names (``img_1a2b3c``...), as blobs of its chat
        session (``response_metadata["session_id"]``), fetched on first read with this
        model's clients and saved under ``directory/<session id>/``. No request is sent
        until a blob is read.

        Raises:
            ValueError: the message carries no ``session_id`` (not an answer of VLM Run).
        """
        session_id = message.response_metadata.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(
                "This message has no session_id in response_metadata: pass an answer of "
                "ChatVLMRun (AIMessage), not one built by hand or from another model."
            )
        content = message.content
        texts = (
            [content]
            if isinstance(content, str)
            else [part if isinstance(part, str) else str(part.get("text", "")) for part in content]
        )
        ids = dict.fromkeys(m.group(0) for t in texts for m in _ARTIFACT_IN_TEXT.finditer(t))
        ids.update(dict.fromkeys(artifact_ids(content)))
        settings = self._client_settings()
        return [
            ArtifactBlob.create(
                None,
                object_id,
                session_id=session_id,
                directory=directory,
                client=settings._sync_client,
                async_client=settings._async_client,
            )
            for object_id in ids
        ]

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the upload clients this model made (given ones are left open)."""
        if self._settings is not None:
            self._settings.close()

    async def aclose(self) -> None:
        """Async :meth:`close`."""
        if self._settings is not None:
            await self._settings.aclose()
