"""A PDF, page by page, on a fresh account: no agent and no prompt to set up.

    python examples/document_pages.py                     # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/document_pages.py  # live

With neither ``agent_name`` nor ``prompt``, ``VLMRunLoader`` sends the built-in default
for the file's medium (``langchain_vlmrun.documents.builtin``). For a document that means
"convert each page to markdown" with a ``pages[{page, content}]`` schema, so you get
one Document per page, with ``page`` (0-based) and ``total_pages`` in its metadata.
``report.pdf`` is a two-page scan.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.documents import Document

from langchain_vlmrun import VLMRunLoader

REPORT = Path(__file__).resolve().parent / "data" / "report.pdf"


def main() -> list[Document]:
    with live_or_cassette("document_example") as settings:
        docs = VLMRunLoader(REPORT, client_kwargs=settings).load()
    for doc in docs:
        meta = doc.metadata
        print(
            f"\n--- {Path(meta['source']).name}, page {meta['page']} "
            f"({meta['page'] + 1} of {meta['total_pages']}), execution {meta['execution_id']}"
        )
        print(doc.page_content)
    return docs


if __name__ == "__main__":
    main()
