"""The gate: commands on one campaign in turn, its lock forgotten once nobody uses it."""

from __future__ import annotations

import asyncio

import pytest

from api.gate import Gate

pytestmark = pytest.mark.unit


def test_one_campaign_in_turn_others_alongside_and_no_lock_left_behind() -> None:
    async def scenario() -> tuple[list[str], int]:
        gate = Gate(heavy=2, uploads=1)
        order: list[str] = []

        async def command(campaign: str, name: str) -> None:
            async with gate.campaign(campaign):
                order.append(f"{name} in")
                await asyncio.sleep(0.01)
                order.append(f"{name} out")

        await asyncio.gather(command("a", "a1"), command("a", "a2"), command("b", "b1"))
        return order, gate.campaigns_in_use()

    order, in_use = asyncio.run(scenario())

    assert order.index("a1 out") < order.index("a2 in")  # a2 waited for a1's turn
    assert order.index("b1 in") < order.index("a1 out")  # another campaign did not wait
    assert in_use == 0
