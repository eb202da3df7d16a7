"""``VLMRunParser``: a LangChain blob parser that runs a VLM Run agent on each Blob."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.document_loaders import BaseBlobParser
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from pydantic import BaseModel

from langchain_vlmrun.client._client import VLMRunClient
from langchain_vlmrun.client._operations import INPUT_FILE_KEY
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client._settings import settings_for
from langchain_vlmrun.client.cache import CacheOption, resolve_cache
from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.documents._documents import AgentSpec, Mode, process_source
from langchain_vlmrun.documents._tracing import source_run

__all__ = ["VLMRunParser"]


class VLMRunParser(BaseBlobParser):
    """Run a VLM Run agent on a Blob (from a path or in-memory bytes) and yield Documents.

    Works with any LangChain blob loader:

    Example:
        >>> from langchain_community.document_loaders.generic import GenericLoader
        >>> from langchain_vlmrun import VLMRunParser
        >>> loader = GenericLoader.from_filesystem(
        ...     "reports/", glob="**/*.pdf",
        ...     parser=VLMRunParser(),  # no agent needed: each medium's built-in default
        ... )
        >>> docs = loader.load()  # doctest: +SKIP

    Each Blob is uploaded (reusing an earlier upload of the same bytes), the agent is
    executed and awaited, and the response becomes Documents exactly as in
    :class:`~langchain_vlmrun.VLMRunLoader` (one per page in ``mode="page"``, one per
    Blob in ``mode="single"``, one for a JSON or text response). The Blob's metadata is
    copied into each Document's metadata; ``source`` is ``blob.source`` (for a bytes
    Blob without path or ``metadata["source"]``: the generated upload filename).

    Errors are raised as they are (``FileSourceError``, ``ExecutionFailedError``,
    ``APIStatusError``...); for per-file error policies use ``VLMRunLoader``. There is no
    async parse in LangChain's blob parser interface; ``VLMRunLoader.alazy_load`` is
    natively async.

    Args:
        agent_name: an agent of your workspace, ``"name:version"``. With neither
            ``agent_name`` nor ``prompt``, each file gets the built-in default of its
            medium (:mod:`langchain_vlmrun.documents.builtin`): page Documents for documents, one
            for an image, timed segment Documents for audio and video.
        prompt: instructions (alone: the service picks an agent; with a name: extra
            instructions).
        response_model: pydantic model of the expected output; the validated object is
            put in ``metadata["structured"]`` (JSON form).
        json_schema: a JSON schema instead of ``response_model``.
        mode: ``"page"`` (one Document per page) or ``"single"`` (one per Blob).
        inputs, config: extra execute ``inputs`` / ``config``; ``input_key`` names the
            file input (default ``"file"``).
        cache: a :class:`~langchain_vlmrun.client.cache.ResultCache`; default (None) the
            persistent :func:`~langchain_vlmrun.client.cache.default_cache` (a Blob
            parsed again, even in another process, is paid once); ``False`` for none
            (see ``VLMRunLoader``).
        callback_url: passed to every execution.
        segment_seconds, options: as in :class:`~langchain_vlmrun.VLMRunLoader`.
        client: a ``VLMRunClient`` to use (not closed by the parser).
        **settings: the client settings every component takes (``api_key``,
            ``base_url``, ``request_timeout``, ``wait_timeout``, ``max_retries``,
            ``requests_per_minute``, ``client_kwargs``; see ``VLMRunLoader``), for the
            client the parser creates otherwise (close it with :meth:`close`); without a
            key or a client the constructor raises
            :class:`~langchain_vlmrun.MissingAPIKeyError`.
        callbacks: LangChain callback handlers: each Blob is a ``VLMRunParser`` run with
            one ``vlmrun_source`` custom event (as in ``VLMRunLoader``).
    """

    def __init__(
        self,
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        response_model: type[BaseModel] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        mode: Mode = "page",
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        input_key: str = INPUT_FILE_KEY,
        client: VLMRunClient | None = None,
        cache: CacheOption = None,
        callback_url: str | None = None,
        segment_seconds: float | None = None,
        options: ExecuteOptions | None = None,
        callbacks: Callbacks = None,
        **settings: Any,
    ) -> None:
        self.callbacks = callbacks
        self.cache = resolve_cache(cache)
        self.settings = settings_for(
            type(self).__name__, check=False, own=_PARSER_ARGUMENTS, client=client, **settings
        )
        self.spec = AgentSpec(
            agent_name=agent_name,
            prompt=prompt,
            response_model=response_model,
            json_schema=json_schema,
            mode=mode,
            inputs=inputs,
            config=config,
            input_key=input_key,
            wait_timeout=self.settings.wait_timeout,
            callback_url=callback_url,
            segment_seconds=segment_seconds,
            options=options,
        )
        self.settings.check(type(self).__name__)  # after the agent and its options
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> VLMRunClient:
        """The client in use (created on first use unless one was given)."""
        if self._client is None:
            self._client = self.settings.new_client()
        return self._client

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Run the agent on ``blob`` and yield its Documents.

        Each Blob is a ``VLMRunParser`` run that dispatches one ``vlmrun_source`` custom
        event (execution id, agent, documents, credits, or the error) to ``callbacks``
        and to the chain it runs in.
        """
        label = _label(blob)
        with source_run(type(self).__name__, self.callbacks, [label]) as run:
            try:
                documents, usage = process_source(self.client, blob, self.spec, cache=self.cache)
            except Exception as exc:
                run.emit(label, documents=0, error=exc)
                raise
            run.emit(usage.source, documents=len(documents), usage=usage)
        yield from documents

    def close(self) -> None:
        """Close the client the parser created (a client passed in is left open); a
        later parse makes a new one. ``with VLMRunParser(...) as parser:`` closes it too."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        self.settings.close()  # a client that came with the parser in a pickle

    async def aclose(self) -> None:
        """:meth:`close` (the parser's client is synchronous)."""
        self.close()

    def __enter__(self) -> VLMRunParser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> VLMRunParser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (Dask, Ray) hold the settings, **the API key included**, and the cache,
        never a connection: the copy makes its client when it first parses."""
        state = dict(self.__dict__)
        if self._owns_client:
            state["_client"] = None
        return state

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(agent_name={self.spec.agent_name!r}, mode={self.spec.mode!r})"
        )


def _label(blob: Blob) -> str:
    """How a Blob is named in events: its source (a URL without credentials)."""
    source = blob.source
    return redact_url(str(source)) if source is not None else f"<{blob.mimetype or 'bytes'}>"


_PARSER_ARGUMENTS = tuple(inspect.signature(VLMRunParser.__init__).parameters)[1:-1]
