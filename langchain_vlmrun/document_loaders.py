"""``VLMRunLoader``: load files, directories, globs and URLs through a VLM Run agent."""

from __future__ import annotations

import glob
import importlib
import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pydantic import BaseModel, SecretStr

from langchain_vlmrun._client import AsyncVLMRunClient, VLMRunClient
from langchain_vlmrun._concurrency import amap_ordered, map_ordered
from langchain_vlmrun._documents import (
    AgentSpec,
    Mode,
    SourceUsage,
    aprocess_source,
    client_settings,
    process_source,
)
from langchain_vlmrun._exceptions import FileSourceError, VLMRunError
from langchain_vlmrun._operations import INPUT_FILE_KEY
from langchain_vlmrun._sources import SUPPORTED_EXTENSIONS, check_supported, is_url
from langchain_vlmrun.cache import ResultCache

__all__ = ["Failure", "LoaderError", "SourceUsage", "VLMRunLoader"]

logger = logging.getLogger("langchain_vlmrun")

OnError = Literal["raise", "skip"]
SourceArg = str | os.PathLike[str]


class LoaderError(VLMRunError):
    """Loading one source failed (``on_error="raise"``).

    ``source`` names the file or URL; ``cause`` (also ``__cause__``) is the original
    error (``FileSourceError``, ``ExecutionFailedError``, ``APIStatusError``...).
    """

    def __init__(self, source: str, cause: BaseException) -> None:
        detail = getattr(cause, "message", None) or str(cause) or type(cause).__name__
        super().__init__(f"Could not load {source}: {detail}")
        self.source = source
        self.cause = cause


@dataclass(frozen=True)
class Failure:
    """A source that could not be loaded, and why (see ``VLMRunLoader.failures``)."""

    source: str
    error: BaseException


@dataclass(frozen=True)
class _Item:
    """One expanded input: a file path or URL, or an input that expanded to nothing."""

    source: str
    problem: str | None = None


@dataclass(frozen=True)
class _Outcome:
    source: str
    documents: list[Document]
    error: BaseException | None = None
    usage: SourceUsage | None = None


class _Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> Any: ...

    def close(self) -> Any: ...


def _expand(source: SourceArg) -> list[_Item]:
    """A URL as is; a directory → its supported files (recursive, sorted); a glob → its
    matching files (sorted); anything else → that path (checked when it is loaded)."""
    text = os.fspath(source)
    if is_url(text):
        return [_Item(text)]
    path = Path(text).expanduser()
    if glob.has_magic(text):
        matches = sorted(
            p for p in glob.glob(os.path.expanduser(text), recursive=True) if os.path.isfile(p)
        )
        return [_Item(p) for p in matches] or [_Item(text, f"no file matches {text!r}")]
    if path.is_dir():
        files = sorted(
            str(p)
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        return [_Item(f) for f in files] or [
            _Item(
                text,
                f"directory {text} holds no supported file ({', '.join(SUPPORTED_EXTENSIONS)})",
            )
        ]
    return [_Item(text)]


class VLMRunLoader(BaseLoader):
    """Load files, directories, globs and URLs as Documents through a VLM Run agent.

    Files are uploaded (an earlier upload of the same bytes is reused), URLs are passed
    to the agent as they are. Up to ``max_concurrency`` sources are processed at once;
    Documents come out in input order.

    Example:
        >>> from langchain_vlmrun import VLMRunLoader
        >>> loader = VLMRunLoader(
        ...     ["reports/", "scans/*.png", "https://example.com/invoice.pdf"],
        ...     prompt="Transcribe each page as markdown.",
        ...     on_error="skip",
        ... )
        >>> docs = loader.load()  # doctest: +SKIP
        >>> loader.failures  # doctest: +SKIP
        [Failure(source='scans/blank.png', error=ExecutionFailedError(...))]

    Documents (see :mod:`langchain_vlmrun._documents`): markdown pages become one
    Document per page (``mode="page"``, default) or per file (``mode="single"``, pages
    joined by ``"\\n\\n---\\n\\n"``), with ``metadata`` ``source``, ``page`` (0-based),
    ``total_pages``, ``execution_id``, ``agent``, ``file_id``, ``credits_used`` (whole
    execution), ``mime_type``, ``response_type``. A structured (JSON) response becomes one
    Document with a readable outline as ``page_content`` and the object in
    ``metadata["structured"]`` (JSON-serialisable; some vector stores such as Chroma
    need ``filter_complex_metadata`` for nested metadata). ``Document.id`` is stable
    (content md5 + page + agent), so re-ingesting upserts.

    Args:
        sources: one or many paths, directories (recursive, supported extensions,
            hidden files skipped), globs (``**`` allowed) and http(s) URLs, mixed.
        agent_name: the agent, ``"name:version"``.
        prompt: instructions (alone: the service picks the agent).
        response_model: pydantic model of the expected output (validated per file).
        json_schema: a JSON schema instead of ``response_model``.
        mode: ``"page"`` or ``"single"``.
        max_concurrency: sources processed at once (threads in ``lazy_load``, tasks in
            ``alazy_load``). Every upload, execute and poll counts against the API rate
            limit; lower this on a pay-as-you-go plan.
        show_progress: show a tqdm bar (files done, failed, credits); needs ``tqdm``
            (``pip install langchain-vlmrun[progress]``).
        on_error: ``"raise"`` (default) raises :class:`LoaderError` naming the source at
            the first failure (in input order); ``"skip"`` logs it, carries on and
            records it in :attr:`failures`.
        inputs, config, input_key, timeout: as in ``VLMRunClient.execute``/``wait``.
        cache: a :class:`~langchain_vlmrun.cache.ResultCache`: sources processed before
            with the same configuration cost nothing, and executions submitted by a run
            that died are waited on instead of paid again.
        callback_url: passed to every execution (VLM Run POSTs the result there too).
        client, async_client: clients to use (not closed by the loader).
        api_key, base_url, client_kwargs: settings of the clients the loader creates
            otherwise (one per load, closed afterwards).

    Attributes:
        failures: the :class:`Failure` list of the last (or current) load.
        usage: a :class:`SourceUsage` per loaded source (HTTP requests it cost, credits,
            whether it came from the cache), in completion order.
    """

    def __init__(
        self,
        sources: SourceArg | Sequence[SourceArg],
        *,
        agent_name: str | None = None,
        prompt: str | None = None,
        response_model: type[BaseModel] | None = None,
        json_schema: Mapping[str, Any] | None = None,
        mode: Mode = "page",
        max_concurrency: int = 8,
        show_progress: bool = False,
        on_error: OnError = "raise",
        inputs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        input_key: str = INPUT_FILE_KEY,
        timeout: float | None = None,
        client: VLMRunClient | None = None,
        async_client: AsyncVLMRunClient | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        cache: ResultCache | None = None,
        callback_url: str | None = None,
    ) -> None:
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        self.sources: list[SourceArg] = list(sources)
        if not self.sources:
            raise ValueError("VLMRunLoader needs at least one path, directory, glob or URL.")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}.")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
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
        self.cache = cache
        self.max_concurrency = max_concurrency
        self.show_progress = show_progress
        self.on_error: OnError = on_error
        self.client = client
        self.async_client = async_client
        self._client_settings = client_settings(api_key, base_url, client_kwargs)
        self.failures: list[Failure] = []
        self.usage: list[SourceUsage] = []

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sources={len(self.sources)}, "
            f"agent_name={self.spec.agent_name!r}, mode={self.spec.mode!r}, "
            f"max_concurrency={self.max_concurrency}, on_error={self.on_error!r})"
        )

    # -- shared ------------------------------------------------------------------------

    def _items(self) -> list[_Item]:
        return [item for source in self.sources for item in _expand(source)]

    def _progress(self, total: int) -> _Progress | None:
        if not self.show_progress:
            return None
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            raise ImportError(
                "show_progress=True needs tqdm: pip install 'langchain-vlmrun[progress]' "
                "(or pip install tqdm), or pass show_progress=False."
            ) from None
        bar: _Progress = tqdm(total=total, desc="VLM Run", unit="file")
        return bar

    def _start(self) -> tuple[list[_Item], _Progress | None]:
        self.failures = []
        self.usage = []
        items = self._items()
        return items, self._progress(len(items))

    def _finish(self, outcome: _Outcome, progress: _Progress | None, totals: list[float]) -> None:
        """Record an outcome: progress, failures, and the error policy."""
        if outcome.usage is not None:
            self.usage.append(outcome.usage)
            totals[0] += outcome.usage.credits_used
        if outcome.error is not None:
            self.failures.append(Failure(outcome.source, outcome.error))
        if progress is not None:
            progress.update(1)
            progress.set_postfix(failed=len(self.failures), credits=round(totals[0], 2))
        if outcome.error is None:
            return
        if self.on_error == "raise":
            raise LoaderError(outcome.source, outcome.error) from outcome.error
        logger.warning("Skipping %s: %s", outcome.source, outcome.error)

    @staticmethod
    def _failed(item: _Item, exc: BaseException) -> _Outcome:
        return _Outcome(item.source, [], exc)

    @staticmethod
    def _done(item: _Item, result: tuple[list[Document], SourceUsage]) -> _Outcome:
        documents, usage = result
        return _Outcome(item.source, documents, None, usage)

    @staticmethod
    def _check(item: _Item) -> None:
        """Refuse an explicitly named file VLM Run cannot read (before any request)."""
        if item.problem:
            raise FileSourceError(item.problem, source=item.source)
        if not is_url(item.source):
            check_supported(item.source)

    # -- sync --------------------------------------------------------------------------

    def lazy_load(self) -> Iterator[Document]:
        """Yield Documents in input order, ``max_concurrency`` sources at a time (threads)."""
        items, progress = self._start()
        client = self.client or VLMRunClient(**self._client_settings)

        def work(item: _Item) -> _Outcome:
            try:
                self._check(item)
                return self._done(
                    item, process_source(client, item.source, self.spec, cache=self.cache)
                )
            except Exception as exc:
                return self._failed(item, exc)

        totals = [0.0]
        outcomes = map_ordered(work, items, self.max_concurrency)
        try:
            for outcome in outcomes:
                self._finish(outcome, progress, totals)
                yield from outcome.documents
        finally:
            outcomes.close()
            if progress is not None:
                progress.close()
            if self.client is None:
                client.close()

    # -- async -------------------------------------------------------------------------

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Native async: ``max_concurrency`` sources at a time (semaphore), input order."""
        items, progress = self._start()
        client = self.async_client or AsyncVLMRunClient(**self._client_settings)

        async def work(item: _Item) -> _Outcome:
            try:
                self._check(item)
                return self._done(
                    item,
                    await aprocess_source(client, item.source, self.spec, cache=self.cache),
                )
            except Exception as exc:
                return self._failed(item, exc)

        totals = [0.0]
        outcomes = amap_ordered(work, items, self.max_concurrency)
        try:
            async for outcome in outcomes:
                self._finish(outcome, progress, totals)
                for document in outcome.documents:
                    yield document
        finally:
            await outcomes.aclose()
            if progress is not None:
                progress.close()
            if self.async_client is None:
                await client.aclose()
