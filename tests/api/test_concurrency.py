"""Optimistic concurrency under load: 20 writers, each sending If-Match for the revision it read."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from tests.api.documents import cluster

URL = "/v1/namespaces/payments/clusters/contended"
WRITERS = 20


def body_for(writer: int) -> str:
    # each writer's content is unique: node-a's allocatable pods equals 1000 + writer
    doc = cluster("contended")
    doc["spec"]["nodes"][0]["allocatable"]["pods"] = str(1000 + writer)
    return json.dumps(doc)


async def test_twenty_writers_every_revision_won_once_no_lost_write(client):
    created = await client.put(
        URL, content=json.dumps(cluster("contended")), headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201
    wins: dict[int, int] = {}  # revision -> writer
    statuses: Counter[int] = Counter()

    async def writer(number: int) -> None:
        while True:
            read = await client.get(URL)
            assert read.status_code == 200
            response = await client.put(
                URL,
                content=body_for(number),
                headers={"Content-Type": "application/json", "If-Match": read.headers["etag"]},
            )
            statuses[response.status_code] += 1
            if response.status_code == 200:
                revision = response.json()["metadata"]["revision"]
                assert revision not in wins, f"revision {revision} won twice"
                wins[revision] = number
                return
            assert response.status_code == 412, response.text
            assert response.headers["content-type"] == "application/problem+json"

    # first round: everyone read revision 1 before anyone writes, so exactly one If-Match "1" can win
    first_round = await asyncio.gather(
        *(
            client.put(URL, content=body_for(n), headers={"Content-Type": "application/json", "If-Match": '"1"'})
            for n in range(WRITERS)
        )
    )
    codes = Counter(r.status_code for r in first_round)
    assert codes == {200: 1, 412: WRITERS - 1}, codes
    first_winner = next(n for n, r in enumerate(first_round) if r.status_code == 200)
    wins[2] = first_winner

    # then the others retry (read, write with If-Match) until each has won one revision
    await asyncio.gather(*(writer(n) for n in range(WRITERS) if n != first_winner))

    assert sorted(wins) == list(range(2, WRITERS + 2))  # one revision per writer, no gaps
    assert sorted(wins.values()) == list(range(WRITERS))  # every writer won exactly once
    assert set(statuses) <= {200, 412}  # never a 5xx or a 409
    history = (await client.get(f"{URL}/revisions")).json()["items"]
    assert [item["revision"] for item in history] == list(range(1, WRITERS + 2))
    # no lost write: each revision holds exactly the content of the writer that won it
    for revision, number in wins.items():
        stored = (await client.get(URL, params={"revision": revision})).json()
        assert stored["spec"]["nodes"][0]["allocatable"]["pods"] == str(1000 + number)
