"""Turning an execution's ``response`` into text: markdown pages, JSON, or plain text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["RenderedResponse", "render_page", "render_response", "render_table"]

_PLACEHOLDER = re.compile(r"<(Table|Figure)\s+id=\"([^\"]+)\"\s*/>")
_TEXT_KEYS = ("markdown", "text", "content", "caption", "transcript", "summary")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(table: dict[str, Any]) -> str:
    """A table's markdown: its ``content`` when given, else built from headers + data."""
    if isinstance(table.get("content"), str) and table["content"].strip():
        return str(table["content"])
    headers = sorted(
        (h for h in table.get("headers") or [] if isinstance(h, dict)),
        key=lambda h: h.get("column", 0),
    )
    rows = [r for r in table.get("data") or [] if isinstance(r, dict)]
    if not headers and rows:
        headers = [{"id": key, "name": key} for key in rows[0]]
    if not headers:
        return ""
    lines = [
        "| " + " | ".join(_cell(h.get("name", h.get("id"))) for h in headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(h.get("id"))) for h in headers) + " |")
    title = (table.get("metadata") or {}).get("title")
    return "\n".join([f"**{title}**", "", *lines] if title else lines)


def _render_figure(figure: dict[str, Any]) -> str:
    parts = [str(figure[key]) for key in ("title", "caption", "content") if figure.get(key)]
    return "\n\n".join(parts)


def _lookup(items: list[Any], ident: str) -> dict[str, Any] | None:
    for item in items:
        if isinstance(item, dict) and str(item.get("id")) == ident:
            return item
    match = re.search(r"(\d+)$", ident)
    if match and int(match.group(1)) < len(items):
        candidate = items[int(match.group(1))]
        return candidate if isinstance(candidate, dict) else None
    return None


def render_page(page: dict[str, Any]) -> str:
    """A markdown page with ``<Table id=.../>`` and ``<Figure id=.../>`` filled in."""
    tables = page.get("tables") or []
    figures = page.get("figures") or []

    def replace(match: re.Match[str]) -> str:
        kind, ident = match.groups()
        if kind == "Table":
            table = _lookup(tables, ident)
            return render_table(table) if table else match.group(0)
        figure = _lookup(figures, ident)
        return _render_figure(figure) if figure else match.group(0)

    return _PLACEHOLDER.sub(replace, str(page.get("content") or ""))


@dataclass(frozen=True)
class RenderedResponse:
    """``kind`` is ``pages`` (markdown per page), ``json``, ``text`` or ``empty``."""

    kind: Literal["pages", "json", "text", "empty"]
    pages: list[str] = field(default_factory=list)
    data: Any = None

    @property
    def text(self) -> str:
        """All the content as one string (pages joined by a separator)."""
        if self.kind == "json":
            return json.dumps(self.data, indent=2, ensure_ascii=False, default=str)
        return PAGE_SEPARATOR.join(self.pages)


PAGE_SEPARATOR = "\n\n---\n\n"


def _is_pages(response: Any) -> bool:
    pages = response.get("pages") if isinstance(response, dict) else None
    return (
        isinstance(pages, list)
        and bool(pages)
        and all(isinstance(p, dict) and isinstance(p.get("content"), str) for p in pages)
    )


def render_response(response: Any) -> RenderedResponse:
    """Classify and render a response; never raises on unexpected shapes."""
    if response is None or response == {} or response == "":
        return RenderedResponse("empty")
    if isinstance(response, str):
        return RenderedResponse("text", pages=[response])
    if _is_pages(response):
        return RenderedResponse("pages", pages=[render_page(p) for p in response["pages"]])
    if isinstance(response, dict) and len(response) == 1:
        ((key, value),) = response.items()
        if key in _TEXT_KEYS and isinstance(value, str):
            return RenderedResponse("text", pages=[value], data=response)
    return RenderedResponse("json", data=response)
