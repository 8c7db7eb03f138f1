"""The JSON bodies' OpenAPI declarations: self-contained, so they read the same inside the OpenAPI document."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from gateway.api.json_body import StrictBody, body_doc, self_contained


class _Line(StrictBody):
    line: int | None = Field(default=None, ge=1)
    decision: Literal["approve", "dispute"]


class _Lines(StrictBody):
    first: _Line
    decisions: list[_Line] = Field(min_length=1)


class _Node(BaseModel):
    children: list[_Node] = []


def test_nested_models_are_written_in_place_of_their_references() -> None:
    schema = body_doc(_Lines)["requestBody"]["content"]["application/json"]["schema"]
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text
    line = _Line.model_json_schema()
    assert schema["properties"]["decisions"]["items"] == line
    assert schema["properties"]["first"] == line
    assert schema["required"] == ["first", "decisions"] and schema["additionalProperties"] is False


def test_a_schema_without_nested_models_is_unchanged() -> None:
    assert self_contained(_Line.model_json_schema()) == _Line.model_json_schema()


def test_a_recursive_model_is_refused_rather_than_expanded_forever() -> None:
    with pytest.raises(ValueError, match="_Node is recursive"):
        self_contained(_Node.model_json_schema())
