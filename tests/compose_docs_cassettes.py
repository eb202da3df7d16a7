"""Compose the cassettes the docs pages replay: ``python -m tests.compose_docs_cassettes``.

One cassette per page that sends requests (``cassettes/docs_<folder>_<page>.yaml``, and
``cassettes/docs_README.yaml`` for the README's quickstarts), holding the requests of its
run python blocks in order (see ``tests/docs_runner.py``; a page that sends none, such as
``docs/guides/safety.md``, has no cassette). Uploads and executes carry the file they are
about in their request body, so sources read concurrently replay right. The responses
follow the built-in defaults' shapes (``langchain_vlmrun.documents.builtin``): pages for
documents, text + description for images, segments for audio; the README's are what the
sample files in ``examples/data`` hold (as in the examples' cassettes).
"""

from __future__ import annotations

import json
from typing import Any

from tests.cassette_kit import execute_and_poll, interaction, write
from tests.compose_loader_cassettes import REPORT_PAGES
from tests.compose_media_cassettes import MEETING_DEFAULT, RECEIPT_DEFAULT, REPORT_DEFAULT
from tests.compose_tool_cassettes import RECEIPT

MODULE = "tests.compose_docs_cassettes"
DATA_FILE_IDS = {
    "receipt.png": "7f3a9c10-2b4d-4e6f-8a1c-3d5e7f9b1c20",
    "chart.png": "8a4b0d21-3c5e-4f70-9b2d-4e6f80ac2d31",
    "report.pdf": "9b5c1e32-4d6f-4081-8c3e-5f7091bd3e42",
    "invoice.pdf": "ac6d2f43-5e70-4192-9d4f-6081a2ce4f53",
    "meeting.mp3": "bd7e3054-6f81-42a3-ae50-7192b3df5064",
}
LUNCH_URL = "https://example.com/receipts/lunch.jpg"

RECEIPT_IMAGE = {
    "text": "Blue Bottle Coffee\nReceipt 2026-07-20\nLatte 5.25\nCroissant 4.50\nTotal USD 9.75",
    "description": (
        "A till receipt from Blue Bottle Coffee for a latte and a croissant, paid by card."
    ),
}
LUNCH_IMAGE = {
    "text": "Corner Deli\nClub sandwich 11.00\nTip 2.00\nTotal USD 13.00",
    "description": "A deli receipt with a 2.00 tip line.",
}
CHART_IMAGE = {
    "text": "Units shipped per quarter\nQ1 1,200\nQ2 1,850\nQ3 2,400",
    "description": "A bar chart of units shipped per quarter; Q3 is the highest.",
}
INVOICE_PAGES = {
    "pages": [
        {
            "page": 0,
            "content": (
                "# Invoice INV-000001\n\nAcme Corp, 2026-07-01\n\n**Total due: USD 2,338.35**"
            ),
        }
    ]
}
MEETING_SEGMENTS = {
    "segments": [
        {"start": 0.0, "end": 14.2, "speaker": "Ana", "text": "Let's review the Q3 numbers."},
        {"start": 14.2, "end": 41.0, "speaker": "Ben", "text": "Shipments are up 30 percent."},
        {"start": 41.0, "end": 75.5, "speaker": "Ana", "text": "Then Lisbon opens in September."},
        {"start": 75.5, "end": 96.0, "speaker": "Ben", "text": "Agreed, I will send the plan."},
    ]
}
LUNCH_RECEIPT = {"merchant": "Corner Deli", "date": "2026-07-21", "total": 13.0, "currency": "USD"}
INVOICE = {"invoice_id": "INV-000001", "total_amount": 2338.35}
CREDITS = {"elements_processed": 1, "element_type": "image", "credits_used": 2}


def execution_id(page: int, n: int) -> str:
    return f"9d1f0c52-7a3e-4b6d-8e2{page}-{n:012d}"


def read_file(name: str, execution: str, response: Any, **usage: Any) -> list[dict[str, Any]]:
    """Upload ``name``, execute on it, one poll (completed)."""
    file_id = DATA_FILE_IDS[name]
    body = f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n...'
    uploaded = interaction(
        "POST",
        "/files?purpose=assistants",
        201,
        {"id": file_id, "filename": name, "bytes": 1024, "purpose": "assistants"},
    )
    uploaded["request"]["body"] = body
    return [
        uploaded,
        *run_on({"type": "input_file", "file_id": file_id}, execution, response, **usage),
    ]


def read_url(url: str, execution: str, response: Any, **usage: Any) -> list[dict[str, Any]]:
    return run_on({"type": "file_url", "file_url": {"url": url}}, execution, response, **usage)


def run_on(
    file: dict[str, Any], execution: str, response: Any, **usage: Any
) -> list[dict[str, Any]]:
    steps = execute_and_poll(
        execution, name=None, response=response, statuses=("completed",), usage=usage or CREDITS
    )
    steps[0]["request"]["body"] = json.dumps({"inputs": {"file": file}})
    return steps


def tool_page() -> list[dict[str, Any]]:
    n = lambda i: execution_id(1, i)  # noqa: E731
    return [
        *read_file("receipt.png", n(1), RECEIPT_IMAGE),
        *read_url(LUNCH_URL, n(2), LUNCH_IMAGE),
        *read_file("chart.png", n(3), CHART_IMAGE),
        # the agent's call for receipt.png: answered by the tool's own cache (no request)
        *read_url(LUNCH_URL, n(5), LUNCH_IMAGE),  # traced (no instructions: a new read)
    ]


PAGES_USAGE = {"elements_processed": 2, "element_type": "page", "credits_used": 6}
PAGE_USAGE = {"elements_processed": 1, "element_type": "page", "credits_used": 3}
AUDIO_USAGE = {"elements_processed": 96, "element_type": "second", "credits_used": 4}


def loader_page() -> list[dict[str, Any]]:
    n = lambda i: execution_id(2, i)  # noqa: E731
    # every later read of the same file under the same defaults is served by the default
    # (persistent) cache: mode="single", the progress events, astream_events, the parser
    return [
        # load(): both files at once (lazy_load and the usage check then hit the cache)
        *read_file("report.pdf", n(1), REPORT_PAGES, **PAGES_USAGE),
        *read_file("chart.png", n(2), CHART_IMAGE),
        *read_file("invoice.pdf", n(3), INVOICE_PAGES, **PAGE_USAGE),  # aload
        *read_file("meeting.mp3", n(5), MEETING_SEGMENTS, **AUDIO_USAGE),
    ]


def extractor_page() -> list[dict[str, Any]]:
    n = lambda i: execution_id(3, i)  # noqa: E731
    return [
        *read_file("receipt.png", n(1), RECEIPT),
        *read_file("receipt.png", n(2), RECEIPT),  # include_raw: another extractor
        # batch: receipt.png from the extractor's own cache, the URL read; then ainvoke,
        # the chain, as_tool and the traced call: all from that cache (no request)
        *read_url(LUNCH_URL, n(4), LUNCH_RECEIPT),
    ]


def provider_page() -> list[dict[str, Any]]:
    return read_file("report.pdf", execution_id(4, 1), REPORT_PAGES, **PAGES_USAGE)


def empty_listing() -> dict[str, Any]:
    """``GET /agent`` on a fresh account: no agents."""
    return interaction("GET", "/agent?skip=0&limit=100", 200, [])


def readme() -> list[dict[str, Any]]:
    """README.md's four quickstarts, on the sample files of ``examples/data``."""
    n = lambda i: execution_id(0, i)  # noqa: E731
    return [
        *read_file("receipt.png", n(1), RECEIPT_DEFAULT),  # the tool, as a tool call
        empty_listing(),  # the toolkit: a fresh account's workspace
        *read_file("receipt.png", n(2), RECEIPT_DEFAULT),  # ... its reader, in the agent
        # the loader: both files at once
        *read_file("report.pdf", n(3), REPORT_DEFAULT, **PAGES_USAGE),
        *read_file("meeting.mp3", n(4), MEETING_DEFAULT, **AUDIO_USAGE),
        *read_file("receipt.png", n(5), RECEIPT),  # the extractor
    ]


def client_guide() -> list[dict[str, Any]]:
    n = lambda i: execution_id(5, i)  # noqa: E731
    return [
        *read_file("invoice.pdf", n(1), INVOICE, **PAGE_USAGE),  # run
        *read_file("invoice.pdf", n(2), INVOICE, **PAGE_USAGE),  # upload, execute, wait
        *read_file("invoice.pdf", n(3), INVOICE, **PAGE_USAGE),  # the async client
        # an agent name the workspace lacks: looked up, then listed for suggestions
        interaction("POST", "/agent/lookup", 404, {"detail": "Agent not found"}),
        empty_listing(),
    ]


def caching_guide() -> list[dict[str, Any]]:
    # paid once: the second loader and the single mode are served from the cache
    return read_file("report.pdf", execution_id(6, 1), REPORT_PAGES, **PAGES_USAGE)


def scale_out_guide() -> list[dict[str, Any]]:
    return read_file("receipt.png", execution_id(7, 1), RECEIPT_IMAGE)


def main() -> None:
    write("docs_tools_vlmrun_agent_tool", tool_page(), module=MODULE)
    write("docs_document_loaders_vlmrun", loader_page(), module=MODULE)
    write("docs_extraction_vlmrun_extractor", extractor_page(), module=MODULE)
    write("docs_providers_vlmrun", provider_page(), module=MODULE)
    write("docs_README", readme(), module=MODULE)
    write("docs_guides_client", client_guide(), module=MODULE)
    write("docs_guides_caching-and-resume", caching_guide(), module=MODULE)
    write("docs_guides_scale-out", scale_out_guide(), module=MODULE)


if __name__ == "__main__":
    main()
