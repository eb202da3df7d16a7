"""Turning an execution's ``response`` into text: markdown pages, JSON, or plain text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "RenderedResponse",
    "Segment",
    "format_seconds",
    "merge_segments",
    "render_page",
    "render_response",
    "render_table",
]

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


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a time in seconds.

    Example:
        >>> format_seconds(62.4), format_seconds(3725)
        ('1:02', '1:02:05')
    """
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Segment:
    """A timed part of a recording: ``start``/``end`` in seconds, what was said (``text``),
    who said it, and (video) what is shown."""

    start: float
    end: float
    text: str = ""
    speaker: str | None = None
    description: str | None = None

    def render(self) -> str:
        """The segment as text for embeddings and models, e.g. ``Speaker A: ...``."""
        said = f"{self.speaker}: {self.text}" if self.speaker and self.text else self.text
        shown = f"[shown] {self.description}" if self.description else ""
        return "\n".join(part for part in (said, shown) if part)


def merge_segments(segments: list[Segment], window: float | None) -> list[list[Segment]]:
    """Consecutive segments grouped into windows of about ``window`` seconds (each group
    spans at least ``window`` unless it is the last); ``None``: one group per segment.

    Example:
        >>> parts = [Segment(0, 4, "a"), Segment(4, 9, "b"), Segment(9, 12, "c")]
        >>> [[s.text for s in group] for group in merge_segments(parts, 8)]
        [['a', 'b'], ['c']]
    """
    if not window:
        return [[segment] for segment in segments]
    groups: list[list[Segment]] = []
    for segment in segments:
        if groups and groups[-1][-1].end - groups[-1][0].start < window:
            groups[-1].append(segment)
        else:
            groups.append([segment])
    return groups


@dataclass(frozen=True)
class RenderedResponse:
    """``kind`` is ``pages`` (markdown per page), ``segments`` (timed parts of a
    recording), ``json``, ``text`` or ``empty``."""

    kind: Literal["pages", "segments", "json", "text", "empty"]
    pages: list[str] = field(default_factory=list)
    data: Any = None
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All the content as one string (pages joined by a separator, segments as
        ``[m:ss-m:ss] ...`` lines)."""
        if self.kind == "json":
            return json.dumps(self.data, indent=2, ensure_ascii=False, default=str)
        if self.kind == "segments":
            return "\n".join(
                f"[{format_seconds(s.start)}-{format_seconds(s.end)}] {s.render()}"
                for s in self.segments
            )
        return PAGE_SEPARATOR.join(self.pages)


PAGE_SEPARATOR = "\n\n---\n\n"


def _is_pages(response: Any) -> bool:
    pages = response.get("pages") if isinstance(response, dict) else None
    return (
        isinstance(pages, list)
        and bool(pages)
        and all(isinstance(p, dict) and isinstance(p.get("content"), str) for p in pages)
    )


def _number(item: dict[str, Any], *names: str) -> float | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _text_of(item: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = item.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _segments(response: Any) -> list[Segment] | None:
    """The timed segments of a ``{"segments": [{"start", "end", ...}]}`` response."""
    items = response.get("segments") if isinstance(response, dict) else None
    if not isinstance(items, list) or not items:
        return None
    segments = []
    for item in items:
        if not isinstance(item, dict):
            return None
        start = _number(item, "start", "start_time", "start_seconds")
        end = _number(item, "end", "end_time", "end_seconds")
        if start is None or end is None:
            return None
        segments.append(
            Segment(
                start=start,
                end=max(start, end),
                text=_text_of(item, "text", "transcript", "content") or "",
                speaker=_text_of(item, "speaker"),
                description=_text_of(item, "description", "visual", "scene"),
            )
        )
    return sorted(segments, key=lambda s: (s.start, s.end))


def _image_text(response: Any) -> str | None:
    """``text`` + ``description`` (what the image default asks for) as one text."""
    if not isinstance(response, dict) or set(response) - {"text", "description"}:
        return None
    parts = [_text_of(response, "text"), _text_of(response, "description")]
    return "\n\n".join(p for p in parts if p) or None


def render_response(response: Any) -> RenderedResponse:
    """Classify and render a response; never raises on unexpected shapes."""
    if response is None or response == {} or response == "":
        return RenderedResponse("empty")
    if isinstance(response, str):
        return RenderedResponse("text", pages=[response])
    if _is_pages(response):
        return RenderedResponse("pages", pages=[render_page(p) for p in response["pages"]])
    if (segments := _segments(response)) is not None:
        return RenderedResponse("segments", data=response, segments=segments)
    if (image := _image_text(response)) is not None:
        return RenderedResponse("text", pages=[image], data=response)
    if isinstance(response, dict) and len(response) == 1:
        ((key, value),) = response.items()
        if key in _TEXT_KEYS and isinstance(value, str):
            return RenderedResponse("text", pages=[value], data=response)
    return RenderedResponse("json", data=response)
