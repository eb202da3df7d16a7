"""A RAG ingestion pipeline on cassettes: loader → splitter → vector store → retriever.

What this proves: the loader's page Documents (content and metadata) go through
``RecursiveCharacterTextSplitter`` and ``InMemoryVectorStore`` intact, a retriever
returns the chunk holding the expected text with the right ``source`` and ``page``,
and re-ingesting the same files upserts (stable ids) instead of duplicating.

What it does not prove: retrieval quality. ``DeterministicFakeEmbedding`` hashes the
text, so similarity between different texts is random; the query is therefore the
exact text of the expected chunk (identical text → identical vector → score 1.0), or a
metadata filter narrows the candidates.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import vcr as vcrpy
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter

from langchain_vlmrun.loaders.loader import VLMRunLoader
from tests.cassette_config import vcr_settings
from tests.compose_loader_cassettes import (
    CHART_EXECUTION,
    CHART_PNG,
    REPORT_EXECUTION,
    REPORT_PDF,
)

SPLITTER = RecursiveCharacterTextSplitter(chunk_size=120, chunk_overlap=0)


def split_with_ids(docs: list[Document]) -> list[Document]:
    """Chunks with ids derived from their Document's stable id (splitters drop ids)."""
    chunks = []
    for doc in docs:
        assert doc.id is not None
        for index, chunk in enumerate(SPLITTER.split_documents([doc])):
            chunk.id = str(uuid.uuid5(uuid.UUID(doc.id), str(index)))
            chunks.append(chunk)
    return chunks


def make_loader(client_kwargs: dict[str, Any]) -> VLMRunLoader:
    return VLMRunLoader(
        [REPORT_PDF, CHART_PNG],  # no agent, no prompt: each medium's built-in default
        max_concurrency=1,
        client_kwargs=client_kwargs,
    )


def ingest(store: InMemoryVectorStore, docs: list[Document]) -> list[Document]:
    chunks = split_with_ids(docs)
    store.add_documents(chunks)
    return chunks


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_rag_ingestion.yaml")
def test_retriever_returns_the_expected_chunk_from_the_right_page(
    cassette_client_kwargs: dict[str, Any],
) -> None:
    docs = make_loader(cassette_client_kwargs).load()
    assert [(d.metadata["execution_id"], d.metadata.get("page")) for d in docs] == [
        (REPORT_EXECUTION, 0),
        (REPORT_EXECUTION, 1),
        (CHART_EXECUTION, None),  # an image is one Document, without a page
    ]
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=64))
    chunks = ingest(store, docs)
    assert len(chunks) > len(docs)  # pages really were split

    (expected,) = [c for c in chunks if "Lisbon warehouse" in c.page_content]
    (hit,) = store.as_retriever(search_kwargs={"k": 1}).invoke(expected.page_content)
    assert "Lisbon warehouse opens in September 2024" in hit.page_content
    assert hit.metadata["source"] == str(REPORT_PDF)
    assert hit.metadata["page"] == 1
    assert hit.metadata["total_pages"] == 2
    assert hit.id == expected.id

    # A metadata filter narrows retrieval to one file, whatever the (random) scores.
    only_chart = store.as_retriever(
        search_kwargs={"k": 10, "filter": lambda d: d.metadata["source"].endswith(".png")}
    ).invoke("bar chart")
    assert only_chart
    assert {d.metadata["mime_type"] for d in only_chart} == {"image/png"}
    assert any("three vertical bars" in d.page_content for d in only_chart)


async def test_reingesting_upserts_instead_of_duplicating(
    cassette_client_kwargs: dict[str, Any],
) -> None:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=64))
    recorder = vcrpy.VCR()
    settings = vcr_settings()
    with recorder.use_cassette("loader_rag_ingestion", record_mode="none", **settings):
        first = ingest(store, make_loader(cassette_client_kwargs).load())
    size = len(store.store)
    with recorder.use_cassette("loader_rag_ingestion", record_mode="none", **settings):
        second = ingest(store, await make_loader(cassette_client_kwargs).aload())  # async path
    assert [c.id for c in first] == [c.id for c in second]
    assert len(store.store) == size == len(first)
