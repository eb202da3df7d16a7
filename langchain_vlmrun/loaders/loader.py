"""``VLMRunLoader``: load files, directories, globs and URLs through a VLM Run agent."""

from __future__ import annotations

import glob
import importlib
import inspect
import itertools
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from langchain_core.callbacks import Callbacks
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pydantic import BaseModel

if TYPE_CHECKING:
    from langchain_text_splitters import TextSplitter

from langchain_vlmrun.client._client import VLMRunClient
from langchain_vlmrun.client._operations import (
    INPUT_FILE_KEY,
    SubmissionStopped,
    submission_gate,
)
from langchain_vlmrun.client._options import ExecuteOptions
from langchain_vlmrun.client._settings import settings_for
from langchain_vlmrun.client.cache import CacheOption, resolve_cache
from langchain_vlmrun.core._redaction import redact_url
from langchain_vlmrun.core._validation import check_number
from langchain_vlmrun.core.errors import FileSourceError, VLMRunError
from langchain_vlmrun.documents._documents import (
    AgentSpec,
    Mode,
    SourceUsage,
    aprocess_source,
    process_source,
    split_documents,
)
from langchain_vlmrun.documents._tracing import asource_run, source_run
from langchain_vlmrun.files._sources import (
    SUPPORTED_EXTENSIONS,
    check_supported,
    is_url,
)
from langchain_vlmrun.loaders._concurrency import STOPPED, Gate, amap_ordered, map_ordered

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
    """A source that could not be loaded, and why (see ``VLMRunLoader.failures``).

    ``execution_id`` is set when an execution was created before the failure (a wait
    that timed out or lost the service): ``client.wait(failure.execution_id)`` resumes
    it without paying again.
    """

    source: str
    error: BaseException

    @property
    def execution_id(self) -> str | None:
        return getattr(self.error, "execution_id", None)


@dataclass(frozen=True)
class _Item:
    """One expanded input: a file path or URL, or an input that expanded to nothing."""

    source: str
    problem: str | None = None
    within: Path | None = None
    """The folder (resolved) a directory or glob expansion found it in: it is opened
    only beneath that folder, however the disk changes meanwhile."""

    @property
    def label(self) -> str:
        """How the source is named in failures and usage (a URL without credentials)."""
        return redact_url(self.source)


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


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies inside ``folder``."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def _contained(paths: Iterable[Path], folder: Path) -> list[_Item]:
    """The paths whose real location is inside ``folder``; others are skipped, logged.
    Each is opened later only beneath the folder (``_Item.within``)."""
    kept = []
    real = folder.resolve()
    for path in paths:
        if _inside(path, folder):
            kept.append(_Item(str(path), within=real))
        else:
            logger.warning(
                "Skipping %s: it is a symbolic link to a file outside %s (expanding a folder "
                "or glob never leaves it; name the file directly to load it).",
                path,
                folder,
            )
    return kept


def _glob_root(pattern: str) -> Path:
    """The folder a glob searches: the part of the pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
    return Path(*fixed) if fixed else Path(".")


def _expand(source: SourceArg) -> list[_Item]:
    """A URL as is; a directory → its supported files (recursive, sorted); a glob → its
    matching files (sorted); anything else → that path (checked when it is loaded).

    Expanding a directory or glob never leaves it: a symlink found there that points
    outside is skipped with a warning (a file named directly is read as named)."""
    text = os.fspath(source)
    if is_url(text):
        return [_Item(text)]
    try:
        return _expand_path(text)
    except (OSError, RuntimeError, ValueError) as exc:  # too long, NUL, loops, no access
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return [_Item(text, f"{text!r} is not a usable path ({reason})")]


def _expand_path(text: str) -> list[_Item]:
    path = Path(text).expanduser()
    if glob.has_magic(text) and not path.exists():  # 'report [draft].pdf' is a file
        pattern = os.path.expanduser(text)
        matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        kept = _contained(matches, _glob_root(pattern))
        return kept or [_Item(text, f"no file matches {text!r}")]
    if path.is_dir():
        candidates = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUPPORTED_EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        files = _contained(candidates, path)
        return files or [
            _Item(
                text,
                f"directory {text} holds no supported file ({', '.join(SUPPORTED_EXTENSIONS)})",
            )
        ]
    if not path.exists() and path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        # a missing folder (or a file without a type): not "unsupported type"
        return [
            _Item(
                text,
                f"No such file or folder: {text} (relative paths resolve against "
                f"{Path.cwd()}); check the path.",
            )
        ]
    return [_Item(text)]


def _source_list(sources: object) -> list[SourceArg]:
    """The loader's inputs as a list, refusing what is not a path, glob or URL."""
    advice = (
        "Pass a path, directory, glob or http(s) URL (str or pathlib.Path), or a list of "
        "them; for bytes in memory use VLMRunParser with Blob.from_data(...)."
    )
    if sources is None:
        raise TypeError(f"VLMRunLoader needs files to load. {advice}")
    items = [sources] if isinstance(sources, (str, os.PathLike, bytes)) else sources
    if not isinstance(items, Iterable):
        raise TypeError(f"Unsupported source {sources!r}. {advice}")
    checked: list[SourceArg] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)) or isinstance(item, bytes):
            raise TypeError(f"Unsupported source of type {type(item).__name__}. {advice}")
        if isinstance(os.fspath(item), bytes):
            raise TypeError(f"Unsupported bytes path {item!r}. {advice}")
        checked.append(item)
    if not checked:
        raise ValueError("VLMRunLoader needs at least one path, directory, glob or URL.")
    return checked


class VLMRunLoader(BaseLoader):
    """Load files, directories, globs and URLs as Documents through a VLM Run agent.

    Files are uploaded (an earlier upload of the same bytes is reused), URLs are passed
    to the agent as they are. Up to ``max_concurrency`` executions run at once, while as
    many next sources upload; Documents come out in input order.

    Example:
        >>> from langchain_vlmrun import VLMRunLoader
        >>> loader = VLMRunLoader(
        ...     ["reports/", "scans/*.png", "https://example.com/invoice.pdf"],
        ...     on_error="skip",  # no agent or prompt: each medium's built-in default
        ... )
        >>> docs = loader.load()  # doctest: +SKIP
        >>> loader.failures  # doctest: +SKIP
        [Failure(source='scans/blank.png', error=ExecutionFailedError(...))]

    Documents (see :mod:`langchain_vlmrun.documents._documents`): markdown pages become one
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
            Expanding a directory or glob never leaves it: symlinks pointing outside
            are skipped with a warning. ``file_path=`` is accepted too, as in
            LangChain's file loaders.
        agent_name: an agent of your workspace, ``"name:version"``. With neither
            ``agent_name`` nor ``prompt``, each file gets the built-in default of its
            medium (:mod:`langchain_vlmrun.documents.builtin`): page Documents for documents, one
            for an image, timed segment Documents for audio and video.
        prompt: instructions (alone: the service picks the agent).
        response_model: pydantic model of the expected output (validated per file).
        json_schema: a JSON schema instead of ``response_model``.
        mode: ``"page"`` or ``"single"``.
        max_concurrency: executions run at once; as many next sources upload
            meanwhile, each submitted the moment an execution ends (threads in
            ``lazy_load``, tasks in ``alazy_load``: twice this many). Every upload,
            execute and poll counts against the API rate limit; lower this on a
            pay-as-you-go plan.
        show_progress: show a tqdm bar (files done, failed, credits); needs ``tqdm``
            (``pip install langchain-vlmrun[progress]``).
        on_error: ``"raise"`` (default) raises :class:`LoaderError` naming the source at
            the first failure (in input order), as soon as it comes: no source is
            submitted after it, and the executions already submitted finish in the
            background into the cache (none is abandoned; see :meth:`lazy_load`);
            ``"skip"`` logs it, carries on and records it in :attr:`failures`.
        inputs, config, input_key: as in ``VLMRunClient.execute``.
        cache: where finished and in-flight executions are recorded, so nothing is paid
            twice. Default (None): the persistent
            :func:`~langchain_vlmrun.client.cache.default_cache` (user cache folder), so a
            re-run, even in another process, pays nothing for unchanged sources and
            resumes the executions a stopped or crashed run submitted. Pass a
            :class:`~langchain_vlmrun.client.cache.ResultCache` for another store, or
            ``False`` for no cache.
        callback_url: passed to every execution (VLM Run POSTs the result there too).
        artifacts_dir: save the artifacts each response references (images, redacted
            documents, clips: see :mod:`langchain_vlmrun.client.artifacts`) to
            ``artifacts_dir/<execution id>/<artifact id>.<ext>``, streamed to disk; their
            paths go to ``metadata["artifact_files"]`` (ids are always in
            ``metadata["artifacts"]``). Default: not downloaded.
        segment_seconds: for audio and video, merge consecutive segments into Documents
            of about this many seconds (default: one Document per segment); each has
            ``start_time``/``end_time`` metadata in seconds.
        options: an :class:`~langchain_vlmrun.ExecuteOptions` (model, skills,
            service tier, execution mode, toolsets, environment, session id).
        client: a client to use (not closed by the loader); an async twin is made like
            it. No key is needed then.
        **settings: the client settings every component takes (one settings model):
            ``api_key`` (or ``vlmrun_api_key``), ``base_url`` (or ``vlmrun_base_url``),
            ``request_timeout``, ``wait_timeout`` (seconds to wait for each execution;
            default: by medium, unless the client's ``wait_timeout`` is set),
            ``max_retries``, ``requests_per_minute``, ``client_kwargs``,
            ``async_client``. They configure the clients the loader creates otherwise
            (one per load, closed afterwards); the key defaults to ``VLMRUN_API_KEY``,
            and without one the constructor raises
            :class:`~langchain_vlmrun.MissingAPIKeyError`. A misspelled name is a
            ``TypeError`` with a did-you-mean hint.
        callbacks: LangChain callback handlers. Each load is a ``VLMRunLoader`` run that
            dispatches one ``vlmrun_source`` custom event per source as it finishes
            (source, status, execution id, agent, documents, credits, requests,
            ``done``/``total``); it also joins the chain the loader is called in
            (``astream_events``; LangSmith shows the run and its summary).

    Attributes:
        failures: the :class:`Failure` list of the last (or current) load.
        usage: a :class:`SourceUsage` per loaded source (HTTP requests it cost, credits,
            whether it came from the cache), in completion order.
    """

    def __init__(
        self,
        sources: SourceArg | Sequence[SourceArg] | None = None,
        *,
        file_path: SourceArg | Sequence[SourceArg] | None = None,
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
        cache: CacheOption = None,
        callback_url: str | None = None,
        artifacts_dir: str | os.PathLike[str] | None = None,
        segment_seconds: float | None = None,
        options: ExecuteOptions | None = None,
        client: VLMRunClient | None = None,
        callbacks: Callbacks = None,
        **settings: Any,
    ) -> None:
        if sources is not None and file_path is not None:
            raise TypeError("Pass the files as sources or as file_path, not both.")
        self.sources: list[SourceArg] = _source_list(file_path if sources is None else sources)
        check_number("max_concurrency", max_concurrency, minimum=1, inclusive=True, integer=True)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
        self.settings = settings_for(
            type(self).__name__,
            check=False,
            own=_LOADER_ARGUMENTS,
            client=client,
            **settings,
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
        self.cache = resolve_cache(cache)
        self.max_concurrency = max_concurrency
        self.show_progress = show_progress
        self.on_error: OnError = on_error
        self.client = client
        self.async_client = self.settings.async_client
        self.callbacks = callbacks
        self.failures: list[Failure] = []
        self.usage: list[SourceUsage] = []
        self.artifacts_dir = artifacts_dir

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sources={len(self.sources)}, "
            f"agent_name={self.spec.agent_name!r}, mode={self.spec.mode!r}, "
            f"max_concurrency={self.max_concurrency}, on_error={self.on_error!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close what the loader holds open. Each load makes its own clients and closes
        them when it ends, so this only matters for a loader that came in a pickle
        with a ``client`` (made for it on arrival); a ``client`` you passed is yours."""
        self.settings.close()

    async def aclose(self) -> None:
        """:meth:`close`, for ``async with``."""
        await self.settings.aclose()

    def __enter__(self) -> VLMRunLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> VLMRunLoader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

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
        return _Outcome(item.label, [], exc)

    @staticmethod
    def _done(item: _Item, result: tuple[list[Document], SourceUsage]) -> _Outcome:
        documents, usage = result
        return _Outcome(item.label, documents, None, usage)

    @staticmethod
    def _check(item: _Item) -> None:
        """Refuse an explicitly named file VLM Run cannot read (before any request)."""
        if item.problem:
            raise FileSourceError(item.problem, source=item.label)
        if not is_url(item.source):
            check_supported(item.source)

    def load_and_split(self, text_splitter: TextSplitter | None = None) -> list[Document]:
        """Load, then split with ``text_splitter`` (default: LangChain's recursive
        splitter), giving each chunk a stable id derived from its page's id (see
        :func:`~langchain_vlmrun.split_documents`), so re-ingesting upserts."""
        if text_splitter is None:
            try:
                from langchain_text_splitters import RecursiveCharacterTextSplitter
            except ImportError as exc:
                raise ImportError(
                    "load_and_split needs langchain-text-splitters: pip install "
                    "langchain-text-splitters, or pass text_splitter=..."
                ) from exc
            text_splitter = RecursiveCharacterTextSplitter()
        return split_documents(self.load(), text_splitter)

    # -- sync --------------------------------------------------------------------------

    def lazy_load(self) -> Iterator[Document]:
        """Yield Documents in input order, ``max_concurrency`` executions at a time (threads).

        Sources are started only while you ask for the next Document. Stopping early
        (``break``, ``close()``, an exception, ``on_error="raise"``) pays for nothing
        new and returns once the execute requests on the wire are answered, never after
        the executions: sources not started are dropped, running ones that have not
        submitted their execution stop before submitting it, and executions already
        submitted finish in the background into the cache (see
        ``docs/document_loaders/vlmrun.md``, "Stopping early").
        """
        items, progress = self._start()
        client = self.client or self.settings.new_client()
        gate = Gate(slots=self.max_concurrency)

        def work(item: _Item) -> _Outcome:
            if gate.stopped:
                return self._failed(item, SubmissionStopped(STOPPED))
            source = gate.source()
            token = submission_gate.set(source)
            try:
                self._check(item)
                source.start()
                return self._done(
                    item,
                    process_source(
                        client,
                        item.source,
                        self.spec,
                        cache=self.cache,
                        artifacts_dir=self.artifacts_dir,
                        within=item.within,
                    ),
                )
            except Exception as exc:
                return self._failed(item, exc)
            finally:
                source.finish()
                submission_gate.reset(token)

        totals = [0.0]
        idle = None if self.client is not None else client.close
        with (
            source_run(type(self).__name__, self.callbacks, _labels(items)) as run,
            _logs_above(progress),
        ):
            outcomes = map_ordered(
                work,
                items,
                _sources_at_once(self.max_concurrency),
                on_stop=gate.stop,
                when_idle=idle,
            )
            try:
                for outcome in outcomes:
                    run.emit(outcome.source, **_event(outcome))
                    self._finish(outcome, progress, totals)
                    yield from outcome.documents
            finally:
                outcomes.close()  # after the execute requests in flight are answered
                if progress is not None:
                    progress.close()

    # -- async -------------------------------------------------------------------------

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Native async: ``max_concurrency`` executions at a time (tasks), input order.

        Stopping early is as in :meth:`lazy_load`; the executions already submitted
        finish in tasks of the running event loop (``asyncio.run`` cancels them when
        its coroutine returns: the cache's ``submitted`` records let the next run resume
        them without paying again).
        """
        items, progress = self._start()
        client = self.async_client or self.settings.new_async_client()
        gate = Gate(slots=self.max_concurrency)

        async def work(item: _Item) -> _Outcome:
            if gate.stopped:
                return self._failed(item, SubmissionStopped(STOPPED))
            source = gate.source()
            submission_gate.set(source)  # in this task's own context
            try:
                self._check(item)
                await source.astart()
                return self._done(
                    item,
                    await aprocess_source(
                        client,
                        item.source,
                        self.spec,
                        cache=self.cache,
                        artifacts_dir=self.artifacts_dir,
                        within=item.within,
                    ),
                )
            except Exception as exc:
                return self._failed(item, exc)
            finally:
                source.finish()

        totals = [0.0]
        idle = None if self.async_client is not None else client.aclose
        async with asource_run(type(self).__name__, self.callbacks, _labels(items)) as run:
            with _logs_above(progress):
                outcomes = amap_ordered(
                    work,
                    items,
                    _sources_at_once(self.max_concurrency),
                    on_stop=gate.astop,
                    when_idle=idle,
                )
                try:
                    async for outcome in outcomes:
                        await run.emit(outcome.source, **_event(outcome))
                        self._finish(outcome, progress, totals)
                        for document in outcome.documents:
                            yield document
                finally:
                    await outcomes.aclose()  # as in lazy_load
                    if progress is not None:
                        progress.close()


def _sources_at_once(max_concurrency: int) -> int:
    """Sources a load runs at once: ``max_concurrency`` executions (the load's gate
    holds the others back) and as many next sources uploading meanwhile, so that a
    file is ready to submit the moment an execution ends (the upload is out of each
    cycle: 1.09x -> 1.06x the physical limit for 200 x 1 s jobs at 32, see
    ``benchmarks``)."""
    return 2 * max_concurrency


@contextmanager
def _logs_above(progress: _Progress | None) -> Iterator[None]:
    """While a progress bar is shown, log lines reach the console through
    ``tqdm.write`` (above the bar) instead of through it: tqdm's
    ``logging_redirect_tqdm`` on the loggers that print this package's records (its
    own logger and the root logger, those with a console handler; with logging not
    configured, the root logger, standing in for ``logging.lastResort``)."""
    if progress is None:
        yield
        return
    redirect = importlib.import_module("tqdm.contrib.logging").logging_redirect_tqdm
    ours = logging.getLogger("langchain_vlmrun")
    chain = [ours, logging.root] if ours.propagate else [ours]
    consoles = [lg for lg in chain if any(_is_console(h) for h in lg.handlers)]
    if not consoles and not any(lg.handlers for lg in chain):
        consoles = [logging.root]  # unconfigured: what lastResort would print
    if not consoles:
        yield
        return
    with redirect(loggers=consoles, tqdm_class=type(progress)):
        yield


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (
        sys.stdout,
        sys.stderr,
    )


def _labels(items: Sequence[_Item]) -> list[str]:
    return [item.label for item in items]


def _event(outcome: _Outcome) -> dict[str, Any]:
    """The per-source event's details (see ``documents._tracing.SOURCE_EVENT``)."""
    return {"documents": len(outcome.documents), "usage": outcome.usage, "error": outcome.error}


_LOADER_ARGUMENTS = tuple(inspect.signature(VLMRunLoader.__init__).parameters)[1:-1]
"""The loader's own arguments (the client settings come through ``**settings``)."""
