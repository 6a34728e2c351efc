"""Bodies of the content endpoints: customer fields, customers, customer groups."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from api.models.common import Paging, RequestBody

FieldType = Literal["string", "number", "boolean"]


class FieldCreate(RequestBody):
    name: str
    type: FieldType
    required: bool = False


class FieldUpdate(RequestBody):
    field_id: UUID
    name: str | None = None
    type: FieldType | None = None
    required: bool | None = None


class FieldRef(RequestBody):
    field_id: UUID


class FieldList(Paging):
    pass


class CustomersUpload(RequestBody):
    customers: list[Any]  # each row is validated on its own: bad rows are reported, not fatal
    validate_only: bool = False


class CustomersDelete(RequestBody):
    external_ids: list[str]


class GroupCreate(RequestBody):
    name: str
    external_ids: list[str]


class GroupUpdate(RequestBody):
    customer_group_id: UUID
    name: str | None = None
    add_external_ids: list[str] = []
    remove_external_ids: list[str] = []


class GroupRef(RequestBody):
    customer_group_id: UUID
