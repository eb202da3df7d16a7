"""Compose the agent-registry and artifact cassettes:
``python -m tests.compose_registry_cassettes``.

Shapes beyond the API reference come from the official Python SDK (vlmrun 0.9.2):
``client/agent.py`` (``POST /agent/lookup`` by name, ``GET /agent`` bare array,
``POST /agent/create``, ``GET /agents/{id}``), ``client/executions.py``
(``GET /agent/executions?skip&limit``), ``client/artifacts.py`` (``GET
/artifacts?object_id&execution_id``: raw bytes typed by Content-Type) and
``client/types.py`` (``AgentInfo``, ``AgentCreationResponse``). The agents are the
example's own (``examples/agent_toolkit.py`` creates them on a live account); a fresh
account has none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cassette_kit import (
    agent_info,
    execute_and_poll,
    execution,
    interaction,
    upload,
    write,
)

MODULE = "tests.compose_registry_cassettes"
NOTE = (
    "Agent, history and artifact shapes: official Python SDK vlmrun 0.9.2 "
    "(client/agent.py, executions.py, artifacts.py, types.py)."
)
DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
RECEIPT_PNG = DATA / "receipt.png"

INVOICES = "langchain-example-invoices"
RECEIPTS = "langchain-example-receipts"
INVOICE_PROMPT = (
    "Extract the invoice number, issue date, due date and total amount from an invoice."
)
RECEIPT_PROMPT = (
    "Read a shop receipt: the merchant, the date, the total and its currency, and a "
    "cropped photo of the receipt."
)
INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "issue_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "total_amount": {"type": "number"},
    },
    "required": ["invoice_number", "issue_date", "total_amount"],
}
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "merchant": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number"},
        "currency": {"type": "string"},
        "receipt_photo": {
            "type": "string",
            "pattern": r"^img_\w{6}$",
            "description": "Image artifact: the receipt, cropped.",
        },
    },
    "required": ["merchant", "date", "total", "currency"],
}
#: What the service wrote as each agent's description when it built it (composed).
INVOICE_DESCRIPTION = "Extracts the invoice number, issue and due dates and total from invoices."
RECEIPT_DESCRIPTION = "Reads shop receipts: merchant, date, total and a photo of the receipt."

INVOICE_INFO = agent_info(
    f"{INVOICES}:v1",
    description=INVOICE_DESCRIPTION,
    prompt=INVOICE_PROMPT,
    json_schema=INVOICE_SCHEMA,
)
RECEIPT_INFO = agent_info(
    f"{RECEIPTS}:v1",
    description=RECEIPT_DESCRIPTION,
    prompt=RECEIPT_PROMPT,
    json_schema=RECEIPT_SCHEMA,
    created_at="2026-07-20T18:01:05.402117",
)

RECEIPT_FILE_ID = "7e2c9a14-3b5d-4f6e-8a1c-9d0b2e4f6a81"
RECEIPT_EXECUTION = "3f9d2b71-6c4e-4a8b-9e1f-5a7c3d9b1e02"
URL_EXECUTION = "8a1c3e5f-7b9d-4f2a-8c4e-6b8d0f2a4c67"
PHOTO_ID = "img_7c41e2"
RECEIPT_RESPONSE = {
    "merchant": "Blue Bottle Coffee",
    "date": "2026-07-20",
    "total": 9.75,
    "currency": "USD",
    "receipt_photo": PHOTO_ID,
}
RECEIPT_URL = "https://example.com/receipts/coffee-2026-07-20.png"
HISTORY = [f"c0ffee00-0000-4000-8000-00000000000{n}" for n in (3, 2, 1)]  # newest first


def not_found_lookup() -> dict[str, Any]:
    return interaction("POST", "/agent/lookup", 404, {"detail": "Agent not found"})


def listing(*agents: dict[str, Any]) -> dict[str, Any]:
    return interaction("GET", "/agent?skip=0&limit=100", 200, list(agents))


def created(info: dict[str, Any], prompt: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """``POST /agent/create`` (pending), then ``GET /agents/{id}`` once it is built."""
    name = info["name"].split(":", 1)[0]
    answer = {k: info[k] for k in ("id", "name", "created_at", "updated_at")}
    return [
        interaction(
            "POST",
            "/agent/create",
            201,
            {**answer, "status": "pending"},
            request_json={
                "name": name,
                "inputs": None,
                "config": {"prompt": prompt, "json_schema": schema},
            },
        ),
        interaction("GET", f"/agents/{info['id']}", 200, info),
    ]


def photo(execution_id: str) -> dict[str, Any]:
    return interaction(
        "GET",
        f"/artifacts?object_id={PHOTO_ID}&execution_id={execution_id}",
        200,
        RECEIPT_PNG.read_bytes(),
        content_type="image/png",
    )


def example() -> list[dict[str, Any]]:
    """examples/agent_toolkit.py on a fresh account: neither agent exists, both are
    created, listed, and the model's choice reads receipt.png; the photo is fetched."""
    receipt = RECEIPT_PNG.read_bytes()
    return [
        not_found_lookup(),
        *created(INVOICE_INFO, INVOICE_PROMPT, INVOICE_SCHEMA),
        not_found_lookup(),
        *created(RECEIPT_INFO, RECEIPT_PROMPT, RECEIPT_SCHEMA),
        listing(RECEIPT_INFO, INVOICE_INFO),
        upload(file_id=RECEIPT_FILE_ID, filename="receipt.png", size=len(receipt)),
        *execute_and_poll(RECEIPT_EXECUTION, name=RECEIPT_INFO["name"], response=RECEIPT_RESPONSE),
        photo(RECEIPT_EXECUTION),
    ]


def main() -> None:
    write("agent_toolkit_example", example(), module=MODULE, note=NOTE)
    write(
        "registry_toolkit_listing",
        [listing(RECEIPT_INFO, INVOICE_INFO)],
        module=MODULE,
        note=NOTE,
    )
    write(
        "registry_unknown_agent",
        [not_found_lookup(), listing(RECEIPT_INFO, INVOICE_INFO)],
        module=MODULE,
        note=NOTE,
    )
    write(
        "registry_image_artifact",
        [
            interaction(
                "POST", "/agent/lookup", 200, RECEIPT_INFO, request_json={"name": RECEIPTS}
            ),
            *execute_and_poll(URL_EXECUTION, name=RECEIPT_INFO["name"], response=RECEIPT_RESPONSE),
            photo(URL_EXECUTION),
        ],
        module=MODULE,
        note=NOTE,
    )
    pages = [
        [execution(HISTORY[0], "completed"), execution(HISTORY[1], "failed")],
        [execution(HISTORY[2], "completed")],
    ]
    write(
        "registry_execution_pages",
        [
            interaction("GET", "/agent/executions?skip=0&limit=2", 200, pages[0]),
            interaction("GET", "/agent/executions?skip=2&limit=2", 200, pages[1]),
        ],
        module=MODULE,
        note=NOTE,
    )


if __name__ == "__main__":
    main()
