"""Errors of the content tables; the API maps their families like the domain's."""

from __future__ import annotations

from domain.errors import NotFound, RuleViolation


class CustomerFieldNotFound(NotFound):
    message = "Customer field not found"


class CustomerFieldExists(RuleViolation):
    message = "A customer field with that name already exists"


class InvalidContent(RuleViolation):
    """A value the content tables cannot hold (the message says which)."""


class GroupInUse(RuleViolation):
    message = "Customer group is used by a current campaign run and cannot be deleted"
