from __future__ import annotations

import asyncio

from bot.keyed_lock import KeyedLock


async def test_same_key_runs_one_at_a_time_in_arrival_order() -> None:
    locks = KeyedLock()
    order: list[str] = []

    async def work(name: str) -> None:
        async with locks.hold("telegram", "42"):
            order.append(f"{name} in")
            await asyncio.sleep(0)
            order.append(f"{name} out")

    await asyncio.gather(work("a"), work("b"), work("c"))
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]


async def test_different_keys_do_not_wait_for_each_other() -> None:
    locks = KeyedLock()
    inside = asyncio.Event()

    async def holder() -> None:
        async with locks.hold("a"):
            inside.set()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(holder())
    await inside.wait()
    async with locks.hold("b"):
        assert not task.done()
    await task


async def test_locks_are_forgotten_when_nobody_holds_them() -> None:
    locks = KeyedLock()
    for key in range(100):
        async with locks.hold(str(key)):
            pass
    assert len(locks) == 0
