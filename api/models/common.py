"""Pieces every request model shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Paging(RequestBody):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class PageSize(RequestBody):
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
