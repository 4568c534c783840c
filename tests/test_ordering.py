"""bot.core.ordering.InOrder, the bot's one ordering mechanism: a conversation's holders one at a
time in arrival order, conversations in parallel, re-entrant for a channel around the engine,
and a holder cancelled while it waits does not let the next one overtake."""

from __future__ import annotations

import asyncio

from bot.core.ordering import InOrder


async def test_one_key_in_arrival_order_others_in_parallel() -> None:
    in_order, log = InOrder(), []
    gate = asyncio.Event()

    async def work(key: str, name: str, wait: bool = False) -> None:
        async with in_order(key):
            log.append(f"{name}+")
            if wait:
                await gate.wait()
            log.append(f"{name}-")

    tasks = [asyncio.create_task(work("a", "a1", wait=True)), asyncio.create_task(work("a", "a2")),
             asyncio.create_task(work("b", "b1"))]
    while "b1-" not in log:  # b went on while a1 holds "a"
        await asyncio.sleep(0)
    assert log == ["a1+", "b1+", "b1-"] and in_order.busy == 1
    gate.set()
    await asyncio.gather(*tasks)
    assert log[3:] == ["a1-", "a2+", "a2-"] and in_order.busy == 0


async def test_the_engine_inside_a_channels_turn_goes_straight_on() -> None:
    in_order = InOrder()

    async def engine_turn() -> str:
        async with in_order(("telegram", "1")):
            return "answered"

    async with in_order(("telegram", "1")):  # the channel holds the chat's turn
        async with asyncio.timeout(1):  # same task (wait_for would make a new one on 3.11)
            assert await engine_turn() == "answered"
        # another task is another holder: it waits for the channel's turn to end
        later = asyncio.create_task(engine_turn())
        await asyncio.sleep(0.01)
        assert not later.done()
    assert await later == "answered"


async def test_a_holder_cancelled_while_waiting_does_not_let_the_next_overtake() -> None:
    in_order, log = InOrder(), []
    gate = asyncio.Event()

    async def work(name: str, wait: bool = False) -> None:
        async with in_order("a"):
            log.append(f"{name}+")
            if wait:
                await gate.wait()
            log.append(f"{name}-")

    first = asyncio.create_task(work("1", wait=True))
    second = asyncio.create_task(work("2"))
    third = asyncio.create_task(work("3"))
    while "1+" not in log:
        await asyncio.sleep(0)
    second.cancel()
    for _ in range(20):
        await asyncio.sleep(0)
    assert log == ["1+"]  # 3 still waits for 1, though 2 (between them) is gone
    gate.set()
    await asyncio.gather(first, third)
    assert log == ["1+", "1-", "3+", "3-"] and in_order.busy == 0
