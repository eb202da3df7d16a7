"""Quickstart: upload an invoice, ask VLM Run for its fields, wait, print the result.

make demo                          # offline, replays cassettes/quickstart.yaml
VLMRUN_API_KEY=... make demo       # live

Works on a fresh account: no agent to create first. A ``prompt`` and a pydantic model
(sent as its JSON schema) say what to read and in which shape.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from pydantic import BaseModel

from langchain_vlmrun import VLMRunClient

INVOICE = Path(__file__).parent / "data" / "invoice.pdf"


class LineItem(BaseModel):
    description: str
    quantity: float
    unit_price: float
    total_price: float


class Invoice(BaseModel):
    invoice_id: str
    issuer_name: str
    customer_name: str
    currency: str
    items: list[LineItem]
    subtotal: float
    tax_percentage: float
    total_amount: float


def main() -> Invoice:
    with live_or_cassette("quickstart") as settings, VLMRunClient(**settings) as client:
        uploaded = client.upload_file(INVOICE)
        print(f"uploaded {INVOICE.name} as file {uploaded.id} ({uploaded.bytes} bytes)")
        started = client.execute(
            prompt="Extract the invoice's id, issuer, customer, line items and totals.",
            response_model=Invoice,
            inputs={"file": {"type": "input_file", "file_id": uploaded.id}},
        )
        print(f"execution {started.id} is {started.status}; waiting...")
        done = client.wait(started.id)
    print(f"execution {done.id} {done.status}; credits used: {done.usage.credits_used}")
    invoice = Invoice.model_validate(done.response)
    print(invoice.model_dump_json(indent=2))
    return invoice


if __name__ == "__main__":
    main()
