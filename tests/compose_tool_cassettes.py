"""Compose the tool and extractor cassettes: ``python -m tests.compose_tool_cassettes``."""

from __future__ import annotations

from pathlib import Path

from tests.cassette_kit import execute_and_poll, lookup, upload, write

MODULE = "tests.compose_tool_cassettes"

#: The examples read this local file (inside their root_dir), so their cassettes hold
#: the upload: hash lookup (miss) then a direct multipart upload.
RECEIPT_PNG = Path(__file__).resolve().parent.parent / "examples" / "data" / "receipt.png"
RECEIPT_FILE_ID = "5c1d7a2e-8f3b-4e6a-9d0c-2b7f4e1a9c35"
RECEIPT_URL = "https://example.com/receipts/coffee-2026-07-20.jpg"
RECEIPT = {"merchant": "Blue Bottle Coffee", "date": "2026-07-20", "total": 9.75, "currency": "USD"}
MARKDOWN = {
    "pages": [
        {
            "content": (
                '# Blue Bottle Coffee\n\nReceipt, 2026-07-20\n\n<Table id="tb-0"/>\n\n'
                "**Total: USD 9.75**"
            ),
            "tables": [
                {
                    "headers": [
                        {"id": "item_0", "column": 0, "name": "Item"},
                        {"id": "price_1", "column": 1, "name": "Price"},
                    ],
                    "data": [
                        {"item_0": "Latte", "price_1": "5.25"},
                        {"item_0": "Croissant", "price_1": "4.50"},
                    ],
                    "content": None,
                }
            ],
            "figures": [],
        }
    ]
}
STANDARD_TESTS = [
    "test_invoke_matches_output_schema",
    "test_async_invoke_matches_output_schema",
    "test_invoke_no_tool_call",
    "test_async_invoke_no_tool_call",
]


def execution_id(n: int) -> str:
    return f"0b7e3f10-4c2a-4d8e-9f6b-{n:012d}"


def receipt_upload() -> list[dict[str, object]]:
    data = RECEIPT_PNG.read_bytes()
    return [
        upload(file_id=RECEIPT_FILE_ID, filename="receipt.png", size=len(data)),
    ]


def main() -> None:
    for n, test in enumerate(STANDARD_TESTS, 1):
        write(
            f"TestVLMRunAgentToolIntegration.{test}",
            [
                lookup("receipt-reader:v1"),
                *execute_and_poll(execution_id(n), name="receipt-reader:v1", response=MARKDOWN),
            ],
            module=MODULE,
        )
    write(
        "tool_agent_example",
        receipt_upload() + execute_and_poll(execution_id(10), name=None, response=MARKDOWN),
        module=MODULE,
    )
    write(
        "extractor_example",
        receipt_upload()
        + execute_and_poll(
            execution_id(11),
            name=None,
            response=RECEIPT,
            statuses=("running", "running", "completed"),
        ),
        module=MODULE,
    )


if __name__ == "__main__":
    main()
