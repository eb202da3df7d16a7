"""VLMRunParser on in-memory and path Blobs, and inside GenericLoader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents.base import Blob

from langchain_vlmrun import ExecutionFailedError
from langchain_vlmrun.loaders.parser import VLMRunParser
from tests.compose_loader_cassettes import (
    BLOB_BYTES,
    BYTES_EXECUTION,
    BYTES_FILE_ID,
    PATH_EXECUTION,
    REPORT_FILE_ID,
    REPORT_PDF,
)
from tests.unit_tests.test_loader import AGENT, FakeVLMRun


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_parser_bytes_blob.yaml")
def test_in_memory_blob_without_path(cassette_client_kwargs: dict[str, Any], vcr: Any) -> None:
    parser = VLMRunParser(client_kwargs=cassette_client_kwargs)  # defaults: a fresh account
    blob = Blob.from_data(BLOB_BYTES, mime_type="application/pdf", metadata={"tenant": "acme"})
    (doc,) = parser.parse(blob)
    parser.close()
    assert doc.page_content == "A one-line note: the parser read this from memory."
    assert doc.metadata["response_type"] == "pages"
    assert (doc.metadata["page"], doc.metadata["total_pages"]) == (0, 1)
    assert doc.metadata["file_id"] == BYTES_FILE_ID
    assert doc.metadata["execution_id"] == BYTES_EXECUTION
    assert doc.metadata["tenant"] == "acme"  # the Blob's metadata is kept
    # named from its content: upload-<sha256 prefix>.pdf
    assert doc.metadata["source"].startswith("upload-")
    assert doc.metadata["source"].endswith(".pdf")
    assert doc.metadata["mime_type"] == "application/pdf"
    # the agent name is checked, then the bytes are uploaded (no md5 lookup: small)
    assert [r.path.removeprefix("/v1") for r in vcr.requests[:2]] == ["/files", "/agent/execute"]


@pytest.mark.vcr
@pytest.mark.default_cassette("loader_parser_path_blob.yaml")
def test_path_blob_gives_page_documents(cassette_client_kwargs: dict[str, Any]) -> None:
    parser = VLMRunParser(client_kwargs=cassette_client_kwargs)  # defaults: a fresh account
    docs = list(parser.lazy_parse(Blob.from_path(REPORT_PDF)))
    assert [d.metadata["page"] for d in docs] == [0, 1]
    assert all(d.metadata["source"] == str(REPORT_PDF) for d in docs)
    assert all(d.metadata["file_id"] == REPORT_FILE_ID for d in docs)
    assert docs[1].metadata["execution_id"] == PATH_EXECUTION
    assert "| Americas | 37.9 |" in docs[0].page_content


def test_generic_loader_with_filesystem_blob_loader(tmp_path: Path) -> None:
    generic = pytest.importorskip("langchain_community.document_loaders.generic")
    for i in range(3):
        (tmp_path / f"doc{i}.pdf").write_bytes(f"%PDF-1.4 {i}\n".encode())
    api = FakeVLMRun(total=3)
    loader = generic.GenericLoader.from_filesystem(
        str(tmp_path),
        glob="*.pdf",
        parser=VLMRunParser(agent_name=AGENT, client=api.client()),
    )
    docs = sorted(loader.load(), key=lambda d: d.metadata["source"])
    assert [d.page_content for d in docs] == [f"content of doc{i}.pdf" for i in range(3)]
    assert docs[0].metadata["source"] == str(tmp_path / "doc0.pdf")


def test_parser_raises_typed_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 bad\n")
    parser = VLMRunParser(
        agent_name=AGENT, client=FakeVLMRun(total=1, fail=frozenset({"bad.pdf"})).client()
    )
    with pytest.raises(ExecutionFailedError):
        parser.parse(Blob.from_path(tmp_path / "bad.pdf"))
    parser.close()  # a client passed in stays open
    assert f"agent_name='{AGENT}'" in repr(parser)
