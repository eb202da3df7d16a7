"""Wire models tolerate extra/missing fields and unknown statuses; naive dates are UTC."""

from __future__ import annotations

from datetime import timezone

from langchain_vlmrun import AgentExecution
from langchain_vlmrun.core.models import FileResponse
from langchain_vlmrun.documents._rendering import render_response


def test_execution_tolerates_unknown_and_missing_fields() -> None:
    execution = AgentExecution.model_validate(
        {
            "id": "e",
            "status": "warming-up",
            "brand_new_field": [1],
            "created_at": "2026-07-20T18:02:11.482913",
        }
    )
    assert execution.status == "warming-up" and not execution.is_terminal
    assert execution.usage.credits_used is None
    assert execution.created_at is not None and execution.created_at.tzinfo == timezone.utc
    assert execution.model_extra == {"brand_new_field": [1]}


def test_completed_at_with_offset_and_z() -> None:
    a = AgentExecution.model_validate(
        {"id": "e", "completed_at": "2026-07-20T18:02:44.019772+00:00"}
    )
    b = AgentExecution.model_validate({"id": "e", "completed_at": "2026-07-20T18:02:44.019772Z"})
    assert a.completed_at == b.completed_at


def test_file_response_hash_miss_shape() -> None:
    miss = FileResponse.model_validate({"id": None, "filename": None, "bytes": 0})
    assert miss.id is None
    assert "public_url" not in repr(FileResponse(id="f", public_url="https://signed?sig=x"))


def test_markdown_pages_render_tables_and_figures() -> None:
    response = {
        "pages": [
            {
                "content": '# Report\n<Table id="tb-0"/>\n<Figure id="fg-0"/>',
                "tables": [
                    {
                        "headers": [
                            {"id": "year_0", "column": 0, "name": "Year"},
                            {"id": "total_1", "column": 1, "name": "Total"},
                        ],
                        "data": [{"year_0": "2023", "total_1": "$ 12.6"}],
                        "content": None,
                    }
                ],
                "figures": [{"id": 0, "title": "Revenue chart", "caption": "Up and to the right"}],
            },
            {"content": "Page two"},
        ]
    }
    rendered = render_response(response)
    assert rendered.kind == "pages"
    assert "| Year | Total |" in rendered.pages[0] and "| 2023 | $ 12.6 |" in rendered.pages[0]
    assert "Revenue chart" in rendered.pages[0] and "<Figure" not in rendered.pages[0]
    assert rendered.pages[1] == "Page two"


def test_json_and_text_responses() -> None:
    assert render_response({"invoice_id": "A", "total": 3}).kind == "json"
    assert render_response({"caption": "a cat"}).pages == ["a cat"]
    assert render_response(None).kind == "empty"
