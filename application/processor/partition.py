"""Which campaigns a processor takes: those whose id hashes to its slot."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

BUCKETS = 2**63  # the id's bucket fits a bigint column, so SQL can filter on it


def bucket_of(campaign_id: UUID) -> int:
    """Stable across processes, machines and Python versions (no ``hash()``)."""
    return campaign_id.int % BUCKETS


@dataclass(frozen=True)
class Partition:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.count <= 4096 and 0 <= self.index < self.count):
            raise ValueError(f"invalid partition {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"I/N"``, e.g. ``"0/2"``."""
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"partition must look like I/N, got {text!r}") from None
        return cls(index, count)

    @property
    def lock_id(self) -> int:
        # Second key of the slot's advisory lock: processes with the same I/N share it.
        return (self.count << 16) | self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
