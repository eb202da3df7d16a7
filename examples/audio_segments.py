"""A recording as timed Documents on a fresh account: no agent, no prompt.

    python examples/audio_segments.py                     # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/audio_segments.py  # live

For audio, the built-in default (``langchain_vlmrun.documents.builtin``) asks for a transcript
in ``segments[{start, end, speaker, text}]``. Each segment becomes a Document with
``start_time``/``end_time`` (seconds) and ``speaker``, so an answer can point to the
moment it came from. ``segment_seconds=`` merges segments into windows of about that
many seconds: fewer, longer Documents to embed. The second load is rendered from the
cache the two loaders share: no second execution, no credits.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.documents import Document
from langchain_core.stores import InMemoryByteStore

from langchain_vlmrun import ResultCache, VLMRunLoader

MEETING = Path(__file__).resolve().parent / "data" / "meeting.mp3"


def clock(seconds: float) -> str:
    """``m:ss.s``, e.g. 0:06.4."""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def show(docs: list[Document]) -> None:
    for doc in docs:
        meta = doc.metadata
        text = doc.page_content.replace("\n", "\n" + " " * 16)
        print(f"[{clock(meta['start_time'])}-{clock(meta['end_time'])}] {text}")


def main() -> list[Document]:
    cache = ResultCache(InMemoryByteStore())
    with live_or_cassette("audio_example") as settings:
        docs = VLMRunLoader(MEETING, cache=cache, client_kwargs=settings).load()
        windows = VLMRunLoader(
            MEETING, segment_seconds=8, cache=cache, client_kwargs=settings
        ).load()
    print(f"\n{MEETING.name}: {len(docs)} segments, execution {docs[0].metadata['execution_id']}")
    show(docs)
    print(f"\nmerged into windows of about 8 s ({len(windows)} Documents, from the cache):")
    show(windows)
    return docs


if __name__ == "__main__":
    main()
