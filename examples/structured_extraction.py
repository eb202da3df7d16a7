"""Structured extraction in a chain: file -> validated pydantic object -> your code.

python examples/structured_extraction.py                     # offline, on cassettes
VLMRUN_API_KEY=... python examples/structured_extraction.py  # live

The extractor's inputs come from the developer (not from an LLM), so unlike
VLMRunAgentTool it reads any path, URL, bytes or Blob it is given. No agent and no
prompt: the pydantic model's JSON schema says what to extract.
"""

from __future__ import annotations

from pathlib import Path

from _offline import live_or_cassette
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, Field

from langchain_vlmrun import VLMRunClient, VLMRunExtractor

RECEIPT = Path(__file__).resolve().parent / "data" / "receipt.png"


class Receipt(BaseModel):
    merchant: str = Field(description="Name of the shop")
    date: str = Field(description="Purchase date, YYYY-MM-DD")
    total: float = Field(description="Amount paid")
    currency: str = Field(description="ISO 4217 code")


def main() -> str:
    with live_or_cassette("extractor_example") as settings:
        extract = VLMRunExtractor(response_model=Receipt, client=VLMRunClient(**settings))
        chain = extract | RunnableLambda(
            lambda r: f"{r.date}: {r.total:.2f} {r.currency} at {r.merchant}"
        )
        receipt_line = chain.invoke(RECEIPT)
    print(f"validated Receipt -> {receipt_line}")
    return receipt_line


if __name__ == "__main__":
    main()
