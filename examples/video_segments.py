"""A video as timed Documents on a fresh account: what is said and what is shown.

    python examples/video_segments.py                     # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/video_segments.py  # live

For video, the built-in default (``langchain_vlmrun.documents.builtin``) asks for
``segments[{start, end, text, description}]``: the transcript and what is on screen.
Each segment becomes a Document with ``start_time``/``end_time`` in its metadata; its
text is what was said, then ``[shown] ...``.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.documents import Document

from langchain_vlmrun import VLMRunLoader

DEMO = Path(__file__).resolve().parent / "data" / "demo.mp4"


def clock(seconds: float) -> str:
    """``m:ss.s``, e.g. 0:06.4."""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def main() -> list[Document]:
    with live_or_cassette("video_example") as settings:
        docs = VLMRunLoader(DEMO, client_kwargs=settings).load()
    print(f"\n{DEMO.name}: {len(docs)} segments, execution {docs[0].metadata['execution_id']}")
    for doc in docs:
        meta = doc.metadata
        print(f"\n[{clock(meta['start_time'])}-{clock(meta['end_time'])}]")
        print(doc.page_content)
    return docs


if __name__ == "__main__":
    main()
