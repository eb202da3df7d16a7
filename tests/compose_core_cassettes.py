"""Compose the client-core cassettes: ``python -m tests.compose_core_cassettes``."""

from __future__ import annotations

import hashlib

from tests.cassette_kit import (
    execute_and_poll,
    execution,
    hash_hit,
    interaction,
    upload,
    write,
)

MODULE = "tests.compose_core_cassettes"

#: Bytes the core tests upload (their md5 is part of the hash-lookup URI).
NEW_FILE = b"%PDF-1.4\n% langchain-vlmrun core test: a new file\n"
KNOWN_FILE = b"%PDF-1.4\n% langchain-vlmrun core test: already uploaded\n"
INVOICE_EXECUTION = "ff9aa0e3-c6c1-40ae-89e2-6c28e45c17a9"
PROMPT_EXECUTION = "3c1f8a52-7d4e-4b8a-9f0e-1a2b3c4d5e6f"
NEW_FILE_ID = "7a3c9e10-2f4b-4c8d-9e1f-0a1b2c3d4e5f"

INVOICE = {
    "invoice_id": "INV-000001",
    "invoice_issue_date": "2024-08-05",
    "issuer_name": "Zylker Electronics Hub",
    "customer_name": "Ms. Mary D. Dunton",
    "currency": "USD",
    "items": [
        {
            "description": "Camera, DSLR camera",
            "quantity": 1.0,
            "unit_price": 899.0,
            "total_price": 899.0,
        }
    ],
    "subtotal": 2227.0,
    "tax_percentage": 5.0,
    "total_amount": 2338.35,
    "balance_due": 2338.35,
}
SCHEMA_RESPONSE = {"invoice_id": "INV-000001", "total_amount": 2338.35}


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def quickstart_invoice() -> bytes:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "examples/data/invoice.pdf").read_bytes()


def main() -> None:
    write(
        "test_upload_new_file",
        [upload(file_id=NEW_FILE_ID, filename="new.pdf", size=len(NEW_FILE))],
        module=MODULE,
    )
    write(
        "test_upload_hash_hit_reuses_file",
        [hash_hit(md5(KNOWN_FILE), filename="known.pdf", size=len(KNOWN_FILE))],
        module=MODULE,
    )
    write(
        "test_execute_by_name",
        [
            interaction(
                "POST",
                "/agent/execute",
                201,
                execution(INVOICE_EXECUTION, "enqueued", name="invoice-extractor:v2"),
            )
        ],
        module=MODULE,
    )
    write(
        "test_execute_by_prompt_with_schema_and_wait",
        execute_and_poll(
            PROMPT_EXECUTION,
            name="auto-invoice-agent:v1",
            response=SCHEMA_RESPONSE,
            statuses=("running", "completed"),
        ),
        module=MODULE,
    )
    write(
        "test_wait_pending_running_completed",
        [
            interaction(
                "GET",
                f"/agent/executions/{INVOICE_EXECUTION}",
                200,
                execution(
                    INVOICE_EXECUTION,
                    status,
                    name="invoice-extractor:v2",
                    response=INVOICE if status == "completed" else None,
                ),
            )
            for status in ("pending", "running", "completed")
        ],
        module=MODULE,
    )
    invoice = quickstart_invoice()
    write(
        "quickstart",
        [
            upload(file_id=NEW_FILE_ID, filename="invoice.pdf", size=len(invoice)),
            *execute_and_poll(
                INVOICE_EXECUTION,
                name="invoice-extractor:v2",
                response=INVOICE,
                statuses=("running", "running", "completed"),
            ),
        ],
        module=MODULE,
    )


if __name__ == "__main__":
    main()
