"""Pagination: `after=X` is the page just after X, `before=X` the page just before it, at every
page size, in both orders (every size from 1 to 30 over a list of 30, walked to each end)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

pytestmark = pytest.mark.anyio

COUNT = 30


async def get_page(http: httpx2.AsyncClient, path: str, **query: Any) -> dict[str, Any]:
    response = await http.get(path, params=query)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


async def walk(
    http: httpx2.AsyncClient, path: str, every: list[str], size: int, order: str
) -> None:
    """Walk `every` (the whole list in `order`) forwards with `after`, then backwards with
    `before` from its last item, checking each page against the slice it must be."""
    start = 0
    while start < len(every):
        query = {"limit": size, "order": order}
        if start:
            query["after"] = every[start - 1]
        page = await get_page(http, path, **query)
        want = every[start : start + size]
        assert ids(page) == want, (size, order, "after", start)
        assert (page["first_id"], page["last_id"]) == (want[0], want[-1])
        assert page["has_more"] == (start + size < len(every))
        start += size
    end = len(every) - 1  # `before` the last item: everything but it, a page at a time
    while end > 0:
        page = await get_page(http, path, limit=size, order=order, before=every[end])
        want = every[max(0, end - size) : end]
        assert ids(page) == want, (size, order, "before", end)
        assert (page["first_id"], page["last_id"]) == (want[0], want[-1])
        assert page["has_more"] == (end - size > 0)
        end = every.index(page["first_id"])
    empty = await get_page(http, path, limit=size, order=order, before=every[0])
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_after_and_before_are_exact_at_every_page_size(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient, order: str
) -> None:
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": str(i)} for i in range(COUNT)]
    )
    path = f"/v1/threads/{thread.id}/messages"
    every = ids(await get_page(http, path, limit=100, order=order))
    assert len(every) == COUNT

    for size in range(1, COUNT + 1):
        await walk(http, path, every, size, order)


async def test_after_and_before_together_give_the_items_between(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    made = [await client.beta.assistants.create(model="gpt-4o") for _ in range(8)]
    every = [assistant.id for assistant in made]  # oldest first: order=asc

    between = await get_page(
        http, "/v1/assistants", order="asc", after=every[1], before=every[6], limit=3
    )

    assert ids(between) == every[2:5] and between["has_more"]


async def test_the_sdk_pages_backwards_with_before(client: openai.AsyncOpenAI) -> None:
    made = [await client.beta.assistants.create(model="gpt-4o", name=str(i)) for i in range(7)]

    page = await client.beta.assistants.list(limit=3, before=made[1].id)  # newest first

    assert [assistant.name for assistant in page.data] == ["4", "3", "2"] and page.has_more
