"""What the official ``vlmrun`` SDK sends, captured, and the same calls made by our client.

The SDK is the reference for the wire format (we send what it sends unless the docs say
why not). ``capture_sdk()`` runs SDK calls against a loopback capturing server and
records each request; ``capture_ours()`` makes the same calls with our client through
an ``httpx.MockTransport``. Both return the same shape, so a test can compare them field
for field.

The SDK is only in the ``bench`` extra, so its capture is committed as
``tests/sdk_wire.json`` (regenerate: ``python -m tests.sdk_wire --write``); the unit
tests compare our requests with that file, and an integration test re-captures the SDK
(when installed) and checks that the file is still what it sends.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import threading
import warnings
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

CAPTURE = Path(__file__).with_name("sdk_wire.json")

#: The calls both clients make (name -> what it is).
CALLS = {
    "upload": "a 2 kB PDF from a path, direct (multipart) upload",
    "presigned": "the same file through a presigned URL",
    "execute": "a prompt with a JSON schema, a referenced and an inline skill, a callback",
}
#: Headers compared (the rest are the HTTP libraries' own: User-Agent, Accept-Encoding).
HEADERS = ("content-type", "content-length", "transfer-encoding", "authorization")
SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}}
BUNDLE = base64.b64encode(b"PK\x05\x06" + bytes(18)).decode()  # an empty zip
FILE_ID = "file-1"
PDF = b"%PDF-1.4\n" + b"0" * 2048 + b"\n%%EOF\n"


def _record(method: str, path: str, query: str, headers: Any, body: bytes) -> dict[str, Any]:
    kept = {k.lower(): v for k, v in headers.items() if k.lower() in HEADERS}
    if "authorization" in kept:
        kept["authorization"] = "Bearer <key>"
    record: dict[str, Any] = {"method": method, "path": path, "query": query, "headers": kept}
    content_type = kept.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        record["headers"]["content-type"] = "multipart/form-data; boundary=<boundary>"
        if "content-length" in kept:  # its value depends on the boundary's length
            record["headers"]["content-length"] = "<sized>"
        record["parts"] = _parts(content_type, body)
    elif content_type.startswith("application/json"):
        record["json"] = json.loads(body)
    else:
        record["body_bytes"] = len(body)
    return record


def _parts(content_type: str, body: bytes) -> list[dict[str, Any]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return [
        {
            "name": part.get_param("name", header="content-disposition"),
            "filename": part.get_filename(),
            "content_type": part.get("content-type"),
            "bytes": len(part.get_payload(decode=True) or b""),
        }
        for part in message.iter_parts()
    ]


def _answer(path: str, base: str) -> tuple[int, dict[str, Any]]:
    """The API's answers, enough for both clients to finish each call."""
    file = {"id": FILE_ID, "filename": "doc.pdf", "bytes": len(PDF), "purpose": "assistants"}
    file |= {"created_at": "2026-01-01T00:00:00Z", "object": "file"}
    if path == "/v1/health":
        return 200, {}
    if path.startswith("/v1/files/hash/"):
        return 404, {"detail": "File not found"}
    if path == "/v1/files":
        return 201, file
    if path == "/v1/files/presigned-url":
        url = f"{base}/upload-target?X-Amz-Signature=s"
        answer = {"id": "presigned-1", "url": url, "filename": "doc.pdf", "public_url": url}
        answer |= {"created_at": "2026-01-01T00:00:00Z"}
        # a server may name another method: both clients must PUT anyway
        return 200, answer | {"content_type": "application/pdf", "upload_method": "POST"}
    if path == "/upload-target":
        return 200, {}
    if path.startswith("/v1/files/verify-upload/"):
        return 200, file
    if path == "/v1/agent/execute":
        execution = {"id": "ex-1", "name": "", "status": "pending", "usage": {}}
        return 201, execution | {"created_at": "2026-01-01T00:00:00Z"}
    return 404, {"detail": "no route"}


@contextlib.contextmanager
def _capturing_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                body = self.rfile.read(length)
            path, _, query = self.path.partition("?")
            seen.append(_record(self.command, path, query, self.headers, body))
            status, answer = _answer(path, f"http://127.0.0.1:{self.server.server_port}")
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _without_probes(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests of one call, less the SDK's key check (``GET /health``)."""
    return [r for r in seen if r["path"] != "/v1/health"]


def capture_sdk(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Each call of ``CALLS`` made by the official SDK, as the server received it."""
    from vlmrun.client import VLMRun
    from vlmrun.client.types import AgentExecutionConfig, AgentSkill, InlineSkillSource

    path = folder / "doc.pdf"
    path.write_bytes(PDF)
    captured: dict[str, list[dict[str, Any]]] = {}
    with _capturing_server() as (base, seen):
        client = VLMRun(api_key="sdk-key", base_url=f"{base}/v1", max_retries=1)
        seen.clear()
        client.files.upload(path, method="direct")
        captured["upload"], seen[:] = _without_probes(seen), []
        client.files.upload(path, method="presigned-url")
        captured["presigned"], seen[:] = _without_probes(seen), []
        config = AgentExecutionConfig(
            prompt="Total?",
            json_schema=SCHEMA,
            skills=[
                AgentSkill(skill_id="invoices"),
                AgentSkill(
                    type="inline",
                    name="csv-insights",
                    description="Summarize CSV files.",
                    source=InlineSkillSource(data=BUNDLE),
                ),
            ],
        )
        with warnings.catch_warnings():  # inputs as a dict: the SDK suggests a model
            warnings.simplefilter("ignore", DeprecationWarning)
            client.agent.execute(
                inputs={"file": {"type": "input_file", "file_id": FILE_ID}},
                config=config,
                callback_url="https://hooks.example/vlmrun",
            )
        captured["execute"] = _without_probes(seen)
    return captured


def capture_ours(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The same calls made by our client (through an in-memory transport)."""
    from langchain_vlmrun import ExecuteOptions, InlineSkill, SkillReference, VLMRunClient

    path = folder / "doc.pdf"
    path.write_bytes(PDF)
    captured: dict[str, list[dict[str, Any]]] = {}
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = request.read()
        url = request.url
        seen.append(_record(request.method, url.path, url.query.decode(), request.headers, body))
        status, answer = _answer(url.path, "https://uploads.example")
        return httpx.Response(status, json=answer)

    def client(**settings: Any) -> VLMRunClient:
        http = httpx.Client(transport=httpx.MockTransport(handler))
        return VLMRunClient(
            api_key="sdk-key", base_url="https://api.example/v1", http_client=http, **settings
        )

    with client() as ours:
        ours.upload_file(path)
    captured["upload"], seen[:] = list(seen), []
    with client(presigned_threshold=0) as ours:
        ours.upload_file(path)
    captured["presigned"], seen[:] = list(seen), []
    options = ExecuteOptions(
        skills=[
            SkillReference(skill_id="invoices"),
            InlineSkill(name="csv-insights", description="Summarize CSV files.", bundle=BUNDLE),
        ]
    )
    with client() as ours:
        ours.execute(
            prompt="Total?",
            json_schema=SCHEMA,
            inputs={"file": {"type": "input_file", "file_id": FILE_ID}},
            options=options,
            callback_url="https://hooks.example/vlmrun",
        )
    captured["execute"] = list(seen)
    return captured


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {CAPTURE.name}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        captured = capture_sdk(Path(folder))
    text = json.dumps(captured, indent=2, sort_keys=True) + "\n"
    if args.write:
        CAPTURE.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
