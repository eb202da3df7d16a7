"""An image on a fresh account: all its text, and what it shows. No agent, no prompt.

    python examples/image_text.py                     # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/image_text.py  # live

For an image, the built-in default (``langchain_vlmrun.documents.builtin``) asks for ``text``
(every visible word, in reading order) and ``description``. The loader gives one
Document: the text, a blank line, then the description.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.documents import Document

from langchain_vlmrun import VLMRunLoader

RECEIPT = Path(__file__).resolve().parent / "data" / "receipt.png"


def main() -> list[Document]:
    with live_or_cassette("image_example") as settings:
        docs = VLMRunLoader(RECEIPT, client_kwargs=settings).load()
    for doc in docs:
        meta = doc.metadata
        print(
            f"\n--- {Path(meta['source']).name} ({meta['mime_type']}), "
            f"execution {meta['execution_id']}, credits {meta.get('credits_used')}"
        )
        print(doc.page_content)
    return docs


if __name__ == "__main__":
    main()
