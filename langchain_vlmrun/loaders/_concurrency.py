"""Ordered, bounded concurrent maps (threads for sync code, tasks for async code).

Both run at most ``max_concurrency`` calls at once, keep at most ``LOOKAHEAD *
max_concurrency`` items in flight or waiting (so 10k inputs never become 10k futures),
and yield results **in input order** as soon as they are available: a slow first item
delays yielding, not the running of the items after it (within that look-ahead window;
further items start as results are consumed).

An exception raised by ``function`` is re-raised when its turn comes; wrap
``function`` to turn errors into values if the caller wants to carry on.

Closing a map early (an error raised by the consumer, ``break``) cancels the calls that
have not started and **waits for the running ones**: a call may have paid for work
server-side, and finishing it lets its result reach a cache instead of being lost.
Only a cancellation of the consuming task itself cancels running calls.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["amap_ordered", "map_ordered"]

T = TypeVar("T")
R = TypeVar("R")


#: The look-ahead window, in multiples of ``max_concurrency``. A source stuck in retries
#: at the head of the line stops new sources from starting once the window behind it is
#: done: 200 files under 30 % faults loaded in a median 60 s with 4 against 67 s with 2
#: (52 s with no window at all); the cost is a few more results held in memory.
LOOKAHEAD = 4


def _check(max_concurrency: int) -> int:
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}.")
    return max_concurrency * LOOKAHEAD


def map_ordered(
    function: Callable[[T], R], items: Iterable[T], max_concurrency: int
) -> Generator[R, None, None]:
    """``map(function, items)`` on a thread pool of ``max_concurrency`` workers.

    Closing the iterator early cancels the calls that have not started and waits for
    the running ones to finish.
    """
    window = _check(max_concurrency)
    source = iter(items)
    pending: deque[Future[R]] = deque()
    executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="vlmrun")
    try:
        for item in itertools.islice(source, window):
            pending.append(executor.submit(function, item))
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(source, 1):
                pending.append(executor.submit(function, item))
            yield result
    finally:
        # the calls not started are cancelled; the running ones are waited for
        executor.shutdown(cancel_futures=True)


async def amap_ordered(
    function: Callable[[T], Awaitable[R]], items: Iterable[T], max_concurrency: int
) -> AsyncGenerator[R, None]:
    """``map`` over coroutines, at most ``max_concurrency`` running (an asyncio semaphore).

    Closing the iterator early cancels the tasks that have not started and waits for
    the running ones; cancelling the consumer cancels them all.
    """
    window = _check(max_concurrency)
    semaphore = asyncio.Semaphore(max_concurrency)
    source = iter(items)
    pending: deque[asyncio.Task[R]] = deque()
    running: set[asyncio.Task[R]] = set()

    async def bounded(item: T) -> R:
        async with semaphore:
            task = asyncio.current_task()
            assert task is not None
            running.add(task)
            return await function(item)

    try:
        for item in itertools.islice(source, window):
            pending.append(asyncio.ensure_future(bounded(item)))
        while pending:
            result = await pending.popleft()
            for item in itertools.islice(source, 1):
                pending.append(asyncio.ensure_future(bounded(item)))
            yield result
    except asyncio.CancelledError:
        for task in pending:
            task.cancel()
        raise
    finally:
        for task in pending:
            if task not in running:
                task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
