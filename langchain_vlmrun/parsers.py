"""``VLMRunParser``: a LangChain blob parser that runs a VLM Run agent on each Blob."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.document_loaders import BaseBlobParser
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from pydantic import BaseModel, SecretStr

from langchain_vlmrun._client import VLMRunClient
from langchain_vlmrun._documents import AgentSpec, Mode, client_settings, process_source
from langchain_vlmrun._operations import INPUT_FILE_KEY
from langchain_vlmrun._validation import reject_unknown
from langchain_vlmrun.cache import CacheOption, resolve_cache

__all__ = ["VLMRunParser"]


class VLMRunParser(BaseBlobParser):
    """Run a VLM Run agent on a Blob (from a path or in-memory bytes) and yield Documents.

    Works with any LangChain blob loader:

    Example:
        >>> from langchain_community.document_loaders.generic import GenericLoader
        >>> from langchain_vlmrun import VLMRunParser
        >>> loader = GenericLoader.from_filesystem(
        ...     "reports/", glob="**/*.pdf",
        ...     parser=VLMRunParser(prompt="Transcribe each page as markdown."),
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
        agent_name: the agent, ``"name:version"``.
        prompt: instructions (alone: the service picks an agent; with a name: extra
            instructions).
        response_model: pydantic model of the expected output; the validated object is
            put in ``metadata["structured"]`` (JSON form).
        json_schema: a JSON schema instead of ``response_model``.
        mode: ``"page"`` (one Document per page) or ``"single"`` (one per Blob).
        inputs, config: extra execute ``inputs`` / ``config``; ``input_key`` names the
            file input (default ``"file"``).
        timeout: seconds to wait for each execution.
        cache: a :class:`~langchain_vlmrun.cache.ResultCache`; default (None) an
            in-memory one of this parser's own (a Blob parsed twice is paid once);
            ``False`` for none (see ``VLMRunLoader``).
        callback_url: passed to every execution.
        client: a ``VLMRunClient`` to use (not closed by the parser).
        api_key, base_url, client_kwargs: settings of the client the parser creates
            otherwise (close it with :meth:`close`).
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
        timeout: float | None = None,
        client: VLMRunClient | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        cache: CacheOption = None,
        callback_url: str | None = None,
        **unknown: Any,
    ) -> None:
        reject_unknown(type(self).__name__, unknown, _PARSER_ARGUMENTS)
        self.cache = resolve_cache(cache)
        self.spec = AgentSpec(
            agent_name=agent_name,
            prompt=prompt,
            response_model=response_model,
            json_schema=json_schema,
            mode=mode,
            inputs=inputs,
            config=config,
            input_key=input_key,
            timeout=timeout,
            callback_url=callback_url,
        )
        self._client = client
        self._owns_client = client is None
        self._client_settings = client_settings(api_key, base_url, client_kwargs)

    @property
    def client(self) -> VLMRunClient:
        """The client in use (created on first use unless one was given)."""
        if self._client is None:
            self._client = VLMRunClient(**self._client_settings)
        return self._client

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Run the agent on ``blob`` and yield its Documents."""
        documents, _ = process_source(self.client, blob, self.spec, cache=self.cache)
        yield from documents

    def close(self) -> None:
        """Close the client the parser created (a client passed in is left open)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(agent_name={self.spec.agent_name!r}, mode={self.spec.mode!r})"
        )


_PARSER_ARGUMENTS = tuple(inspect.signature(VLMRunParser.__init__).parameters)[1:-1]
