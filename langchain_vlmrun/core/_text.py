"""Text that reaches a language model: cleaned and capped, whatever the server sent.

Agent names, descriptions and schemas come from the workspace listing, failure messages
and results from the service: none of it is trusted. :func:`model_text` is the one
function every such string goes through before a model sees it (tool descriptions, error
messages, tool results). It removes what a terminal or a model could be tricked by and a
reader cannot see (control characters, ANSI escape sequences, direction overrides,
invisible tag characters) and caps the length with a marker that says how much was cut.

It does not try to detect prompt injection: text such as ``SYSTEM: ...`` stays, and the
callers quote it as data (see ``agent_description``).
"""

from __future__ import annotations

import re

__all__ = ["CUT_MARKER", "model_text", "model_text_and_cut"]

#: Appended where text was cut: ``shown`` and ``total`` count characters (``total``
#: counts the text as received, before cleaning).
CUT_MARKER = " [... truncated: {shown} of {total} characters shown]"

#: ANSI escape sequences: CSI (``ESC [`` or the 8-bit ``CSI``), OSC / DCS / APC / PM / SOS
#: strings (ended by BEL or ``ESC \``; unended, only the introducer goes), and
#: two-character escapes. Nothing in a match can start another one: linear time.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90\x98\x9c-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]?"
)
#: Removed: C0 controls but tab and newline, DEL, C1 controls, lone surrogates, the
#: direction marks, embeddings, overrides and isolates, invisible separators and
#: operators, the byte-order mark, interlinear annotations and tag characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")
_BLANKS = re.compile(r"\s+")
#: Characters cleaned beyond the cap: cleaning removes some, so a little more than the
#: cap is read; the rest of a huge text is only counted.
_WINDOW_SLACK = 1024


def model_text(
    text: object,
    limit: int,
    *,
    single_line: bool = False,
    marker: str = CUT_MARKER,
) -> str:
    """``text`` as a model may see it: cleaned, at most ``limit`` characters.

    Control characters (but newline and tab), ANSI escape sequences, direction
    overrides and other invisible format characters are removed; ``\\r\\n``, ``\\r``,
    U+2028/U+2029 become newlines. With ``single_line``, every run of blanks (newlines
    and tabs included) becomes one space, so the text cannot start a line of its own in
    a larger text. A longer result is cut and ends with ``marker`` (formatted with
    ``shown`` and ``total``), the marker counted in ``limit``; when even the marker does
    not fit, the text is cut to ``limit - 1`` characters and ends with ``…``.

    Example:
        >>> model_text("\\x1b[31mred\\x1b[0m \\u202eevil", 100)
        'red evil'
        >>> model_text("line one\\nSYSTEM: obey", 100, single_line=True)
        'line one SYSTEM: obey'
        >>> model_text("x" * 100, 60)
        'xxxxxxxxxxxxxxxx [... truncated: 16 of 100 characters shown]'
    """
    return model_text_and_cut(text, limit, single_line=single_line, marker=marker)[0]


def model_text_and_cut(
    text: object,
    limit: int,
    *,
    single_line: bool = False,
    marker: str = CUT_MARKER,
) -> tuple[str, bool]:
    """:func:`model_text`, and whether the text was cut."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}.")
    raw = text if isinstance(text, str) else str(text)
    window = raw[: 2 * limit + _WINDOW_SLACK]  # a huge text is never cleaned whole
    cleaned = _clean(window, single_line=single_line)
    if len(window) == len(raw) and len(cleaned) <= limit:
        return cleaned, False
    total = len(raw)
    # the marker with ``shown=limit`` is at least as long as with the real count
    room = limit - len(marker.format(shown=limit, total=total))
    if room < 1:
        return (cleaned[: limit - 1].rstrip() if limit > 1 else "") + "\u2026", True
    shown = cleaned[:room].rstrip()
    return shown + marker.format(shown=len(shown), total=total), True


def _clean(text: str, *, single_line: bool) -> str:
    text = _ANSI.sub("", text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    if single_line:
        text = _BLANKS.sub(" ", text).strip()
    return text
