"""The event loop's database thread (`admin_ui.db_thread`): calls that wait together go in one batch, a failure
reaches every caller of its batch, and the thread keeps its connection between calls."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from admin_ui.db_thread import Batched, run_sync


def test_callers_that_wait_together_share_one_call_and_get_their_own_results():
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        return [2 * item for item in items]

    batched = Batched(double)

    async def many() -> list[int]:
        return list(await asyncio.gather(*(batched(i) for i in range(5))))

    assert async_to_sync(many)() == [0, 2, 4, 6, 8]
    assert calls == [[0, 1, 2, 3, 4]]
    assert async_to_sync(batched)(7) == 14  # a later caller on another loop starts a new batch


def test_a_failed_batch_is_raised_to_each_of_its_callers():
    def broken(items: list[int]) -> list[int]:
        raise RuntimeError("database down")

    batched = Batched(broken)

    async def many() -> list[BaseException | int]:
        return list(await asyncio.gather(*(batched(i) for i in range(3)), return_exceptions=True))

    assert [str(result) for result in async_to_sync(many)()] == ["database down"] * 3


@pytest.mark.django_db(transaction=True)
def test_the_thread_keeps_its_connection_between_calls():
    assert connection.settings_dict["CONN_MAX_AGE"] == 0  # Django would close it after each request

    def connection_in_use() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return id(connection.connection)

    first = async_to_sync(run_sync)(connection_in_use)
    assert async_to_sync(run_sync)(connection_in_use) == first
