"""How an execution's response becomes text: every shape VLM Run's agents answer with
(pages with tables and figures, timed segments, an image's text and description, one
text field, any JSON), rendered exactly, and odd shapes never raising."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_vlmrun.documents._rendering import (
    PAGE_SEPARATOR,
    Segment,
    merge_segments,
    render_page,
    render_response,
    render_table,
)

# --- tables and figures -------------------------------------------------------------


def test_a_table_is_built_from_its_headers_in_column_order() -> None:
    table = {
        "headers": [
            {"id": "b", "name": "Amount", "column": 1},
            {"id": "a", "name": "Item", "column": 0},
            "not a header",
        ],
        "data": [{"a": "Latte | large", "b": 5.25}, {"a": "Tea\nhot", "b": None}, "junk"],
        "metadata": {"title": "Receipt"},
    }
    assert render_table(table) == "\n".join(
        [
            "**Receipt**",
            "",
            "| Item | Amount |",
            "| --- | --- |",
            "| Latte \\| large | 5.25 |",
            "| Tea hot |  |",
        ]
    )


def test_a_table_without_headers_takes_the_first_rows_keys() -> None:
    assert render_table({"data": [{"x": 1, "y": 2}, {"x": 3}]}) == (
        "| x | y |\n| --- | --- |\n| 1 | 2 |\n| 3 |  |"
    )
    # a header without a name shows its id; without a column it goes first
    assert render_table({"headers": [{"id": "q", "column": 2}, {"id": "p", "name": "P"}]}) == (
        "| P | q |\n| --- | --- |"
    )


def test_a_tables_own_markdown_wins_and_an_empty_table_is_nothing() -> None:
    assert render_table({"content": "| a |\n| - |", "headers": [{"id": "x"}]}) == "| a |\n| - |"
    assert render_table({"content": "   ", "data": [{"k": 1}]}) == "| k |\n| --- |\n| 1 |"
    assert render_table({}) == "" and render_table({"headers": None, "data": None}) == ""


def test_placeholders_are_filled_by_id_then_by_position() -> None:
    page = {
        "content": 'A <Table id="t-1"/> B <Figure id="fig_0" /> C <Table id="t9"/> D',
        "tables": [{"id": "x", "content": "FIRST"}, {"id": "t-1", "content": "BY ID"}],
        "figures": [{"title": "Chart", "caption": "Sales", "content": "up", "id": "f"}],
    }
    # t-1 by its id; fig_0 by its number (position 0); t9 unknown: left as it is
    assert render_page(page) == 'A BY ID B Chart\n\nSales\n\nup C <Table id="t9"/> D'
    assert render_page({"content": '<Table id="2"/>', "tables": ["a", "b", "c"]}) == (
        '<Table id="2"/>'  # position 2 is not a table
    )
    assert render_page({"content": '<Figure id="f1"/>', "figures": [{}, {"title": "T"}]}) == "T"
    assert render_page({"content": None}) == "" and render_page({}) == ""


def test_an_id_wins_over_the_position_its_number_names() -> None:
    # "t-0" is the second table's id; its number names the first table
    tables = [{"id": "t-1", "content": "FIRST"}, {"id": "t-0", "content": "BY ID"}]
    assert render_page({"content": '<Table id="t-0"/>', "tables": tables}) == "BY ID"


def test_a_placeholder_past_the_last_item_or_unknown_is_kept_as_written() -> None:
    two = [{"title": "A"}, {"title": "B"}]
    for content, page in [
        ('<Figure id="fig-2"/>', {"figures": two}),  # positions 0 and 1 only
        ('x <Figure id="chart"/> y', {"figures": two}),
        ('<Table id="t-2"/>', {"tables": two}),
    ]:
        assert render_page({"content": content, **page}) == content


def test_a_header_without_a_column_counts_as_column_zero() -> None:
    table = {
        "headers": [{"id": "x", "name": "X"}, {"id": "y", "name": "Y", "column": 0}],
        "data": [{"x": 1, "y": 2}],
    }
    assert render_table(table) == "| X | Y |\n| --- | --- |\n| 1 | 2 |"


# --- what kind of response ----------------------------------------------------------


def test_pages_are_rendered_and_joined() -> None:
    rendered = render_response({"pages": [{"content": "one"}, {"content": "two"}]})
    assert rendered.kind == "pages" and rendered.pages == ["one", "two"]
    assert rendered.text == f"one{PAGE_SEPARATOR}two"


@pytest.mark.parametrize(
    "response",
    [
        {"pages": []},
        {"pages": [{"content": "a"}, {"content": 3}]},
        {"pages": [{"content": "a"}, "b"]},
        {"pages": "a"},
    ],
)
def test_anything_short_of_pages_is_json(response: Any) -> None:
    assert render_response(response).kind == "json"


@pytest.mark.parametrize(
    ("start_key", "end_key"),
    [("start", "end"), ("start_time", "end_time"), ("start_seconds", "end_seconds")],
)
@pytest.mark.parametrize(
    ("text_key", "shown_key"),
    [("text", "description"), ("transcript", "visual"), ("content", "scene")],
)
def test_segments_are_read_under_each_name_agents_use(
    start_key: str, end_key: str, text_key: str, shown_key: str
) -> None:
    response = {
        "segments": [
            {start_key: 65, end_key: 62.5, text_key: " later ", "speaker": "B"},
            {start_key: 0.5, end_key: 4, text_key: "first", shown_key: " a chart "},
        ]
    }
    rendered = render_response(response)
    assert rendered.kind == "segments" and rendered.data == response
    assert rendered.segments == [  # in time order; an end before its start is the start
        Segment(0.5, 4.0, "first", None, "a chart"),
        Segment(65.0, 65.0, "later", "B", None),
    ]
    assert rendered.text == "[0:00-0:04] first\n[shown] a chart\n[1:05-1:05] B: later"


@pytest.mark.parametrize(
    "response",
    [
        {"segments": []},
        {"segments": "0-4 hello"},
        {"segments": [{"start": 0, "end": 4}, "junk"]},
        {"segments": [{"start": 0}]},
        {"segments": [{"end": 4}]},
        {"segments": [{"start": "0", "end": 4}]},
        {"segments": [{"start": True, "end": 4}]},
    ],
)
def test_anything_short_of_timed_segments_is_json(response: Any) -> None:
    assert render_response(response).kind == "json"


def test_a_segment_without_text_or_speaker_renders_what_it_has() -> None:
    assert Segment(0, 1, "", "A", "slide").render() == "[shown] slide"
    assert Segment(0, 1, "hi", None, None).render() == "hi"
    assert Segment(0, 1).render() == ""


def test_a_segment_without_text_has_none() -> None:
    rendered = render_response({"segments": [{"start": 0, "end": 5, "description": "a cat"}]})
    assert rendered.segments[0].text == "" and rendered.text == "[0:00-0:05] [shown] a cat"


def test_a_window_closes_once_it_spans_the_window() -> None:
    parts = [Segment(0, 4, "a"), Segment(4, 8, "b"), Segment(8, 12, "c")]
    assert [[s.text for s in group] for group in merge_segments(parts, 8)] == [["a", "b"], ["c"]]


def test_an_image_answer_is_its_text_then_its_description() -> None:
    both = render_response({"text": " Total 9.75 ", "description": "A receipt."})
    assert (both.kind, both.pages) == ("text", ["Total 9.75\n\nA receipt."])
    assert render_response({"text": "", "description": "Blank."}).pages == ["Blank."]
    assert render_response({"description": "Only this."}).pages == ["Only this."]
    assert render_response({"text": " ", "description": ""}).kind == "json"
    assert render_response({"text": "t", "description": "d", "extra": 1}).kind == "json"


@pytest.mark.parametrize("key", ["markdown", "text", "content", "caption", "transcript", "summary"])
def test_one_text_field_is_text(key: str) -> None:
    rendered = render_response({key: "Hello"})
    assert (rendered.kind, rendered.pages, rendered.data) == ("text", ["Hello"], {key: "Hello"})


@pytest.mark.parametrize(
    "response", [{"title": "Hello"}, {"summary": 3}, {"summary": "a", "other": "b"}, [1, 2]]
)
def test_other_answers_are_json(response: Any) -> None:
    rendered = render_response(response)
    assert rendered.kind == "json" and rendered.data == response


def test_empty_and_plain_text_answers() -> None:
    for empty in (None, {}, ""):
        assert render_response(empty).kind == "empty"
    assert render_response("plain").pages == ["plain"]
    assert render_response({"a": "é", "n": 1}).text == '{\n  "a": "é",\n  "n": 1\n}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    response=json_values
    | st.fixed_dictionaries({"pages": st.lists(json_values, max_size=3)})
    | st.fixed_dictionaries({"segments": st.lists(json_values, max_size=3)})
)
def test_no_answer_makes_rendering_raise(response: Any) -> None:
    rendered = render_response(response)
    assert isinstance(rendered.text, str)
