"""Compose vcrpy cassettes from the API reference (``../shared/vlmrun-api.md``).

The cassettes in ``cassettes/`` were not recorded from the live service (no key was
available when they were written); they are *composed* here from the documented
request/response shapes, and every file says so in its header. Re-record them live
with ``VLMRUN_API_KEY=... pytest -m live --record-mode=rewrite`` (see cassettes/README.md).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.cassette_config import CASSETTES

BASE = "https://api.vlm.run/v1"
HEADER = (
    "# COMPOSED from the VLM Run API reference (../shared/vlmrun-api.md), NOT recorded\n"
    "# from the live service. Regenerate: python -m {module}. Re-record live: see README.md.\n"
)

_REASONS = {200: "OK", 201: "Created", 404: "Not Found", 422: "Unprocessable Entity"}

FILE_ID = "bea05e4d-ffde-4b04-bba3-4266935db70b"
CREATED = "2026-07-20T18:01:02.113204"
COMPLETED = "2026-07-20T18:02:44.019772+00:00"


def interaction(
    method: str,
    path: str,
    status: int = 200,
    body: Any = None,
    *,
    request_json: Any = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    uri = path if path.startswith("http") else f"{BASE}{path}"
    return {
        "request": {
            "body": json.dumps(request_json) if request_json is not None else None,
            "headers": {"Authorization": ["REDACTED"]},
            "method": method,
            "uri": uri,
        },
        "response": {
            "status": {"code": status, "message": _REASONS.get(status, "")},
            "headers": {"content-type": [content_type]},
            "body": {"string": body if isinstance(body, (str, bytes)) else json.dumps(body)},
        },
    }


def file_response(
    file_id: str = FILE_ID, filename: str = "invoice.pdf", size: int = 1024
) -> dict[str, Any]:
    return {
        "id": file_id,
        "filename": filename,
        "bytes": size,
        "purpose": "assistants",
        "created_at": CREATED,
        "object": "file",
        "public_url": f"https://storage.googleapis.com/vlmrun/{file_id}?X-Goog-Signature=REDACTED",
    }


def hash_miss(md5: str) -> dict[str, Any]:
    body = {
        "id": None,
        "filename": None,
        "bytes": 0,
        "purpose": "assistants",
        "created_at": CREATED,
        "object": "file",
        "public_url": None,
    }
    return interaction("GET", f"/files/hash/{md5}", 200, body)


def hash_hit(md5: str, **file: Any) -> dict[str, Any]:
    return interaction("GET", f"/files/hash/{md5}", 200, file_response(**file))


def upload(**file: Any) -> dict[str, Any]:
    return interaction("POST", "/files?purpose=assistants", 201, file_response(**file))


def execution(
    execution_id: str,
    status: str,
    *,
    name: str | None = None,
    response: Any = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    done = status in {"completed", "failed"}
    return {
        "id": execution_id,
        "name": name,
        "created_at": "2026-07-20T18:02:11.482913",
        "completed_at": COMPLETED if done else None,
        "response": response,
        "status": status,
        "usage": usage
        or {
            "elements_processed": 1 if done else None,
            "element_type": "page" if done else None,
            "credits_used": 6 if done else None,
            "steps": 4 if done else None,
            "message": None,
            "duration_seconds": 32 if done else 0,
        },
    }


def execute_and_poll(
    execution_id: str,
    *,
    name: str | None,
    response: Any,
    statuses: tuple[str, ...] = ("running", "completed"),
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """POST /agent/execute (enqueued) then one GET per status in ``statuses``."""
    out = [
        interaction("POST", "/agent/execute", 201, execution(execution_id, "enqueued", name=name))
    ]
    for status in statuses:
        final = status in {"completed", "failed"}
        out.append(
            interaction(
                "GET",
                f"/agent/executions/{execution_id}",
                200,
                execution(
                    execution_id,
                    status,
                    name=name,
                    response=response if final else None,
                    usage=usage if final else None,
                ),
            )
        )
    return out


def agent_info(
    name: str,
    *,
    description: str | None = None,
    prompt: str | None = None,
    json_schema: dict[str, Any] | None = None,
    created_at: str = CREATED,
) -> dict[str, Any]:
    """AgentInfo (SDK ``client/types.py``) of a test agent ``name:version``; the id is a
    uuid derived from the name, so cassettes stay stable when recomposed."""
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"langchain-vlmrun-test-agent:{name}")),
        "name": name,
        "description": description or f"Test agent {name}.",
        "prompt": prompt or f"Test agent {name}.",
        "json_schema": json_schema,
        "json_sample": None,
        "created_at": created_at,
        "updated_at": created_at,
        "status": "completed",
    }


def lookup(name: str, **info: Any) -> dict[str, Any]:
    """``POST /agent/lookup`` by name, found: what a client sends once per agent name
    before it uploads anything for that agent."""
    return interaction(
        "POST", "/agent/lookup", 200, agent_info(name, **info), request_json={"name": name}
    )


def write(
    name: str, interactions: list[dict[str, Any]], *, module: str, note: str | None = None
) -> Path:
    """Write ``cassettes/<name>.yaml`` with the COMPOSED header (and ``note``, a comment
    line saying where shapes beyond the API reference come from)."""
    path = CASSETTES / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {"interactions": interactions, "version": 1}, sort_keys=False, allow_unicode=True
    )
    header = HEADER.format(module=module) + (f"# {note}\n" if note else "")
    path.write_text(header + text)
    return path
