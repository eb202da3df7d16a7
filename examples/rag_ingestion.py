"""RAG ingestion: load a 2-page PDF and a PNG through VLM Run, index them, ask a question.

    python examples/rag_ingestion.py                   # offline: replays cassettes
    VLMRUN_API_KEY=... python examples/rag_ingestion.py # live

Pipeline: ``VLMRunLoader`` (one Document per page, tables and figures rendered into
markdown) → ``RecursiveCharacterTextSplitter`` → ``InMemoryVectorStore`` → retriever.

The embeddings here are a tiny bag-of-words hashing model so the example runs with
no embedding provider and no network; it matches on shared words only. Swap in a real
model (``OpenAIEmbeddings``, ``HuggingFaceEmbeddings``...) for semantic search.
Set ``VLMRUN_MARKDOWN_AGENT`` to use another markdown agent when running live.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import uuid
from pathlib import Path

from _offline import live_or_cassette
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter

from langchain_vlmrun.document_loaders import VLMRunLoader

DATA = Path(__file__).parent / "data"
FILES = [DATA / "report.pdf", DATA / "chart.png"]
AGENT = os.environ.get("VLMRUN_MARKDOWN_AGENT", "document-markdown:v1")
QUESTION = "When does the Lisbon warehouse open?"


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


def split_with_ids(
    docs: list[Document], splitter: RecursiveCharacterTextSplitter
) -> list[Document]:
    """Split, giving each chunk an id derived from its Document's stable id, so running
    this again upserts the same chunks instead of adding duplicates."""
    chunks = []
    for doc in docs:
        for index, chunk in enumerate(splitter.split_documents([doc])):
            chunk.id = str(uuid.uuid5(uuid.UUID(doc.id), str(index))) if doc.id else None
            chunks.append(chunk)
    return chunks


def main() -> None:
    with live_or_cassette("loader_rag_ingestion") as settings:
        offline = bool(settings)
        loader = VLMRunLoader(
            FILES,
            agent_name=AGENT,
            # Offline, the cassette answers uploads and executions in recorded order.
            max_concurrency=1 if offline else 4,
            client_kwargs=settings,
        )
        docs = loader.load()

    print(f"\nloaded {len(docs)} Documents:")
    for doc in docs:
        meta = doc.metadata
        print(
            f"  {Path(meta['source']).name} page {meta.get('page')} / {meta.get('total_pages')}"
            f"  execution {meta['execution_id']}  credits {meta.get('credits_used')}"
        )

    splitter = RecursiveCharacterTextSplitter(chunk_size=300, chunk_overlap=30)
    chunks = split_with_ids(docs, splitter)
    store = InMemoryVectorStore(BagOfWordsEmbeddings())
    store.add_documents(chunks)
    store.add_documents(chunks)  # re-ingesting upserts: same ids, no duplicates
    print(f"indexed {len(chunks)} chunks ({len(store.store)} in the store after 2 ingests)")

    (best,) = store.as_retriever(search_kwargs={"k": 1}).invoke(QUESTION)
    print(f"\nQ: {QUESTION}")
    print(f"best chunk: {Path(best.metadata['source']).name}, page {best.metadata.get('page')}")
    print("  " + best.page_content.replace("\n", "\n  "))


if __name__ == "__main__":
    main()
