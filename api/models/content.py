"""Bodies of the content endpoints: customer fields, customers, customer groups."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from api.models.common import Identifier, Name, Paging, RequestBody

FieldType = Literal["string", "number", "boolean"]


class FieldCreate(RequestBody):
    name: Identifier
    type: FieldType
    required: bool = False


class FieldUpdate(RequestBody):
    field_id: UUID
    name: Identifier | None = None
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
    external_ids: list[Identifier]


class GroupCreate(RequestBody):
    name: Name
    external_ids: list[Identifier]


class GroupUpdate(RequestBody):
    customer_group_id: UUID
    name: Name | None = None
    add_external_ids: list[Identifier] = []
    remove_external_ids: list[Identifier] = []


class GroupRef(RequestBody):
    customer_group_id: UUID
