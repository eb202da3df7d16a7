"""RAG over a PDF and a recording: index both, ask, get the page or the moment.

    python examples/rag_ingestion.py                    # offline: replays a cassette
    VLMRUN_API_KEY=... python examples/rag_ingestion.py # live

Pipeline: ``VLMRunLoader`` with the built-in defaults (one Document per PDF page, one
per timed segment of the recording) → ``split_documents`` (stable chunk ids) →
``InMemoryVectorStore`` → retriever. The answer says where it came from: a page, or a
``start``-``end`` time in the recording.

The embeddings here are a tiny bag-of-words hashing model so the example runs with
no embedding provider and no network; it matches on shared words only. Swap in a real
model (``OpenAIEmbeddings``, ``HuggingFaceEmbeddings``...) for semantic search.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from _offline import live_or_cassette, max_concurrency
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter

from langchain_vlmrun import VLMRunLoader
from langchain_vlmrun.documents import split_documents

DATA = Path(__file__).parent / "data"
FILES = [DATA / "report.pdf", DATA / "meeting.mp3"]
QUESTION = "When does the Denver warehouse open?"


class BagOfWordsEmbeddings(Embeddings):
    """Hashing-trick word counts, L2-normalised: offline, deterministic, lexical only."""

    def __init__(self, size: int = 512) -> None:
        self.size = size

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self.size
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if len(word) > 2:
                digest = hashlib.md5(word.encode(), usedforsecurity=False).digest()
                vector[int.from_bytes(digest[:4], "big") % self.size] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


def clock(seconds: float) -> str:
    """``m:ss.s``, e.g. 0:06.4."""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def where(doc: Document) -> str:
    """A page of a document, or a time span of a recording."""
    meta = doc.metadata
    name = Path(meta["source"]).name
    if "start_time" in meta:
        return f"{name} [{clock(meta['start_time'])}-{clock(meta['end_time'])}]"
    return f"{name} page {meta.get('page')}"


def main() -> list[Document]:
    with live_or_cassette("rag_example") as settings:
        loader = VLMRunLoader(FILES, max_concurrency=max_concurrency(4), client_kwargs=settings)
        docs = loader.load()

    print(f"\nloaded {len(docs)} Documents:")
    for doc in docs:
        print(f"  {where(doc)}  execution {doc.metadata['execution_id']}")

    chunks = split_documents(docs, RecursiveCharacterTextSplitter(chunk_size=300))
    store = InMemoryVectorStore(BagOfWordsEmbeddings())
    store.add_documents(chunks)
    store.add_documents(chunks)  # re-ingesting upserts: same ids, no duplicates
    print(f"indexed {len(chunks)} chunks ({len(store.store)} in the store after 2 ingests)")

    (best,) = store.as_retriever(search_kwargs={"k": 1}).invoke(QUESTION)
    print(f"\nQ: {QUESTION}")
    print(f"A: from {where(best)}:")
    print("  " + best.page_content.replace("\n", "\n  "))
    return docs


if __name__ == "__main__":
    main()
