"""Pieces every request model shares, and the length limits of its fields."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # keeps the row offset inside a bigint
MAX_INT4 = 2**31 - 1

# Every key and string of a body is also limited to api.body.MAX_STRING (10,000) characters
# and may hold no NUL; api.body checks that (naming the field), the schema documents it.
NO_NUL = {"pattern": "^[^\\u0000]*$"}
Name = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=NO_NUL)]
Identifier = Name  # ids, field names, user ids: the limits of a name
Text = Annotated[str, Field(max_length=10_000, json_schema_extra=NO_NUL)]  # content, comments


def integral_float_as_int(value: object) -> object:
    """1.0 is the integer 1 to JSON Schema ("integer": a number whose fraction is zero),
    so to this API too; 1.5, and "1" or true, stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Every integer field of a body: bodies are validated strictly, which would refuse 1.0.
Integer = Annotated[int, BeforeValidator(integral_float_as_int)]
# Bounds inside the optional, so the schema says "minimum" (on "int | None" pydantic
# writes a bare "ge", which JSON Schema does not know).
RunNumber = Annotated[int, Field(ge=1, le=MAX_INT4), BeforeValidator(integral_float_as_int)]


def example(**fields: Any) -> ConfigDict:
    """A model's example body: the OpenAPI document shows it on every operation taking
    the model (a test checks each one is accepted by its model)."""
    return ConfigDict(json_schema_extra={"examples": [fields]})


CAMPAIGN_ID = "3f0c6f52-8d7e-4c59-9a3e-2b8f4f1f7a10"
GROUP_ID = "9b2d7c41-5e6a-4f3b-8c1d-0a9e8f7b6c5d"


class RequestBody(BaseModel):
    """Unknown fields are ignored (``account_id`` or ``status`` in a body change nothing)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Paging(RequestBody):
    model_config = example(page=1, page_size=100)

    page: Integer = Field(default=1, ge=1, le=MAX_PAGE)
    page_size: Integer = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class PageSize(RequestBody):
    model_config = example(page_size=100)

    page_size: Integer = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
