"""Write the loader sample files and cassettes: ``python -m tests.compose_loader_cassettes``.

The sample files (``examples/data/report.pdf``, a real 2-page PDF, and
``examples/data/chart.png``, a small bar chart) are generated here with the standard
library only; their bytes are deterministic, so the md5 in each cassette's
``GET /files/hash/{md5}`` URI is the md5 of the file on disk.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path
from typing import Any

from tests.cassette_kit import (
    execute_and_poll,
    lookup,
    upload,
    write,
)

MODULE = "tests.compose_loader_cassettes"
DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
REPORT_PDF = DATA / "report.pdf"
CHART_PNG = DATA / "chart.png"

MARKDOWN_AGENT = "document-markdown:v1"
CHART_AGENT = "chart-extractor:v1"
REPORT_FILE_ID = "5d0c2a61-8f3e-4b9a-a1c7-2e4f6b8d0a13"
CHART_FILE_ID = "9b7e5c3a-1d2f-4e6a-8b0c-4f6a8c0e2b57"
BYTES_FILE_ID = "c4e6a8b0-2d4f-4a6c-8e0a-6c8e0a2c4e79"
REPORT_EXECUTION = "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
CHART_EXECUTION = "f2b3c4d5-e6f7-4081-92a3-b4c5d6e7f809"
STRUCTURED_EXECUTION = "a3c4d5e6-f708-4192-a3b4-c5d6e7f8091a"
SINGLE_EXECUTION = "b4d5e6f7-0819-42a3-b4c5-d6e7f8091a2b"
BYTES_EXECUTION = "c5e6f708-192a-43b4-c5d6-e7f8091a2b3c"
PATH_EXECUTION = "d6f70819-2a3b-44c5-d6e7-f8091a2b3c4d"
URL_EXECUTION = "e7081920-3b4c-45d6-e7f8-091a2b3c4d5e"
SAMPLE_URL = "https://example.com/scans/receipt.jpg"

#: In-memory bytes the parser test hands over as a Blob without a path.
BLOB_BYTES = b"%PDF-1.4\n% langchain-vlmrun parser test: in-memory blob\n"

# --- what the agents answer ----------------------------------------------------------

REPORT_PAGES: dict[str, Any] = {
    "pages": [
        {
            "page": 0,
            "content": (
                "# Acme Corp Quarterly Report Q2 2024\n\n"
                "Revenue grew 12% quarter over quarter, led by the EMEA region.\n\n"
                '<Table id="tb-0"/>'
            ),
            "tables": [
                {
                    "id": "tb-0",
                    "headers": [
                        {"id": "region", "name": "Region", "column": 0},
                        {"id": "revenue", "name": "Revenue (USD m)", "column": 1},
                    ],
                    "data": [
                        {"region": "EMEA", "revenue": "41.2"},
                        {"region": "Americas", "revenue": "37.9"},
                    ],
                    "metadata": {"title": "Revenue by region"},
                }
            ],
            "figures": [],
        },
        {
            "page": 1,
            "content": (
                "# Outlook\n\n"
                "Management expects the Lisbon warehouse to open in September 2024, "
                "cutting delivery times in southern Europe by two days.\n\n"
                '<Figure id="fg-0"/>'
            ),
            "tables": [],
            "figures": [
                {
                    "id": "fg-0",
                    "title": "Figure 1: Delivery times",
                    "caption": "Average delivery time fell from 5.1 to 3.2 days.",
                }
            ],
        },
    ]
}

CHART_PAGES: dict[str, Any] = {
    "pages": [
        {
            "page": 0,
            "content": (
                "# Units shipped per quarter\n\n"
                "A bar chart of units shipped: Q1 1,200; Q2 1,850; Q3 2,400. "
                "Q3 is the highest quarter."
            ),
            "tables": [],
            "figures": [],
        }
    ]
}

CHART_STRUCTURED: dict[str, Any] = {
    "title": "Units shipped per quarter",
    "bars": [
        {"label": "Q1", "value": 1200},
        {"label": "Q2", "value": 1850},
        {"label": "Q3", "value": 2400},
    ],
}

BLOB_TEXT = {"markdown": "A one-line note: the parser read this from memory."}

URL_RESPONSE: dict[str, Any] = {
    "pages": [{"content": "RECEIPT\n\nTotal: 12.50 EUR", "tables": [], "figures": []}]
}


def _usage(credits: float, pages: int) -> dict[str, Any]:
    return {
        "elements_processed": pages,
        "element_type": "page",
        "credits_used": credits,
        "steps": 3,
        "message": None,
        "duration_seconds": 12,
    }


# --- sample files, pure python -------------------------------------------------------


def _pdf_text(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 20 Tf", "72 720 Td", "24 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF 1.4: one Helvetica text page per entry of ``pages``."""
    n = len(pages)
    font_obj = 3 + 2 * n
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{3 + 2 * i} 0 R".encode() for i in range(n))
        + f"] /Count {n} >>".encode(),
    ]
    for i, lines in enumerate(pages):
        content = _pdf_text(lines)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_obj} 0 R >> >> >>".encode()
        )
        objects.append(
            f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def make_png(width: int = 48, height: int = 32) -> bytes:
    """A small RGB bar chart (three bars on white) as a valid PNG."""
    bars = [(6, 14, 12), (18, 26, 19), (30, 38, 26)]  # x from, x to, bar height
    colours = [(66, 133, 244), (219, 68, 55), (15, 157, 88)]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            pixel = (255, 255, 255)
            if y == height - 3:
                pixel = (0, 0, 0)  # axis
            for (x0, x1, h), colour in zip(bars, colours, strict=True):
                if x0 <= x < x1 and height - 3 - h <= y < height - 3:
                    pixel = colour
            rows += bytes(pixel)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


REPORT_LINES = [
    [
        "Acme Corp Quarterly Report Q2 2024",
        "Revenue grew 12% quarter over quarter.",
        "EMEA 41.2  Americas 37.9 (USD m)",
    ],
    [
        "Outlook",
        "The Lisbon warehouse opens in September 2024.",
        "Average delivery time fell from 5.1 to 3.2 days.",
    ],
]


def write_samples() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    REPORT_PDF.write_bytes(make_pdf(REPORT_LINES))
    CHART_PNG.write_bytes(make_png())


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# --- cassettes -----------------------------------------------------------------------


def rag_ingestion() -> list[dict[str, Any]]:
    """report.pdf then chart.png, new uploads, one markdown execution each."""
    report, chart = REPORT_PDF.read_bytes(), CHART_PNG.read_bytes()
    return [
        lookup(MARKDOWN_AGENT),
        upload(file_id=REPORT_FILE_ID, filename="report.pdf", size=len(report)),
        *execute_and_poll(
            REPORT_EXECUTION,
            name=MARKDOWN_AGENT,
            response=REPORT_PAGES,
            statuses=("running", "completed"),
            usage=_usage(8, 2),
        ),
        upload(file_id=CHART_FILE_ID, filename="chart.png", size=len(chart)),
        *execute_and_poll(
            CHART_EXECUTION,
            name=MARKDOWN_AGENT,
            response=CHART_PAGES,
            statuses=("completed",),
            usage=_usage(4, 1),
        ),
    ]


def main() -> None:
    write_samples()
    report, chart = REPORT_PDF.read_bytes(), CHART_PNG.read_bytes()
    write("loader_rag_ingestion", rag_ingestion(), module=MODULE)
    write(
        "loader_single_mode",
        [
            lookup(MARKDOWN_AGENT),
            upload(file_id=REPORT_FILE_ID, filename="report.pdf", size=len(report)),
            *execute_and_poll(
                SINGLE_EXECUTION, name=MARKDOWN_AGENT, response=REPORT_PAGES, usage=_usage(8, 2)
            ),
        ],
        module=MODULE,
    )
    write(
        "loader_structured",
        [
            lookup(CHART_AGENT),
            upload(file_id=CHART_FILE_ID, filename="chart.png", size=len(chart)),
            *execute_and_poll(
                STRUCTURED_EXECUTION,
                name=CHART_AGENT,
                response=CHART_STRUCTURED,
                usage=_usage(2, 1),
            ),
        ],
        module=MODULE,
    )
    write(
        "loader_url_source",
        [
            lookup(MARKDOWN_AGENT),
            *execute_and_poll(
                URL_EXECUTION, name=MARKDOWN_AGENT, response=URL_RESPONSE, usage=_usage(1, 1)
            ),
        ],
        module=MODULE,
    )
    write(
        "loader_parser_bytes_blob",
        [
            lookup(MARKDOWN_AGENT),
            upload(file_id=BYTES_FILE_ID, filename="note.pdf", size=len(BLOB_BYTES)),
            *execute_and_poll(
                BYTES_EXECUTION, name=MARKDOWN_AGENT, response=BLOB_TEXT, usage=_usage(1, 1)
            ),
        ],
        module=MODULE,
    )
    write(
        "loader_parser_path_blob",
        [
            lookup(MARKDOWN_AGENT),
            upload(file_id=REPORT_FILE_ID, filename="report.pdf", size=len(report)),
            *execute_and_poll(
                PATH_EXECUTION, name=MARKDOWN_AGENT, response=REPORT_PAGES, usage=_usage(8, 2)
            ),
        ],
        module=MODULE,
    )


if __name__ == "__main__":
    main()
