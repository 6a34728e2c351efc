"""Bodies of the content endpoints: customer fields, customers, customer groups."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, WithJsonSchema

from api.models.common import GROUP_ID, NO_NUL, Identifier, Name, Paging, RequestBody, example

FIELD_ID = "2c6a9e4b-1d3f-4b7a-8e5c-9f0d1a2b3c4e"

FieldType = Literal["string", "number", "boolean"]


class FieldCreate(RequestBody):
    model_config = example(name="plan", type="string", required=True)

    name: Identifier
    type: FieldType
    required: bool = False


class FieldUpdate(RequestBody):
    model_config = example(field_id=FIELD_ID, name="tier", required=False)

    field_id: UUID
    name: Identifier | None = None
    type: FieldType | None = None
    required: bool | None = None


class FieldRef(RequestBody):
    model_config = example(field_id=FIELD_ID)

    field_id: UUID


class FieldList(Paging):
    model_config = example(page=1, page_size=100)

    pass


# pydantic would write the names' no-NUL pattern as "patternProperties", which lets a name
# with a NUL through (as an additional property): the names' rules go in "propertyNames".
FieldValues = Annotated[
    dict[Identifier, str | float | bool | None],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"minLength": 1, "maxLength": 200, **NO_NUL},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": 10_000, **NO_NUL},  # as Text
                    *({"type": t} for t in ("number", "boolean", "null")),
                ]
            },
        }
    ),
]


class CustomerRow(RequestBody):
    model_config = example(external_id="cust-1001", fields={"plan": "gold", "region": "EU"})

    external_id: Identifier
    fields: FieldValues = Field(
        default_factory=dict,
        description="Values by customer field name, each of its field's type; null is no value",
    )


class CustomersUpload(RequestBody):
    model_config = example(
        customers=[
            {"external_id": "cust-1001", "fields": {"plan": "gold", "region": "EU"}},
            {"external_id": "cust-1002", "fields": {"plan": "silver", "region": "US"}},
        ],
        validate_only=False,
    )

    customers: list[CustomerRow] = Field(
        description="Upserted by external_id. Each row is checked on its own: a row that "
        "does not fit (this schema, or the account's fields) is answered in `rejected` "
        "and changes nothing, the others are written."
    )
    validate_only: bool = Field(default=False, description="Check the rows, write none")


class CustomersDelete(RequestBody):
    model_config = example(external_ids=["cust-1001", "cust-1002"])

    external_ids: list[Identifier]


class GroupCreate(RequestBody):
    model_config = example(name="Spring audience", external_ids=["cust-1001", "cust-1002"])

    name: Name
    external_ids: list[Identifier]


class GroupUpdate(RequestBody):
    model_config = example(
        customer_group_id=GROUP_ID,
        name="Spring audience (EU)",
        add_external_ids=["cust-1003"],
        remove_external_ids=["cust-1002"],
    )

    customer_group_id: UUID
    name: Name | None = None
    add_external_ids: list[Identifier] = []
    remove_external_ids: list[Identifier] = []


class GroupRef(RequestBody):
    model_config = example(customer_group_id=GROUP_ID)

    customer_group_id: UUID
