"""A load client for requests that must differ (each Save/Send on its own incident), which
autocannon cannot send: run in its own process by bench.py.

    python benchmarks/load_client.py URL BODIES_JSON SECONDS CONNECTIONS [HEADERS_JSON]

BODIES_JSON is a file holding a list of JSON bodies, each posted once, in order, by
CONNECTIONS clients over keep-alive connections for SECONDS (or until the bodies run out). It
prints one JSON line: requests, seconds, p50 and p99 latency in ms, and failures (non-200
answers, GraphQL errors or payload ``errors``), with the first failure's text.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


def _failed(answer: httpx.Response) -> bool:
    if answer.status_code != 200:
        return True
    data: Any = answer.json()
    if "errors" in data:
        return True
    payloads = (data.get("data") or {}).values() if isinstance(data.get("data"), dict) else []
    return any(isinstance(p, dict) and p.get("errors") for p in payloads)


async def main(
    url: str, bodies: list[Any], seconds: float, clients: int, headers: dict[str, str]
) -> None:
    latencies: list[float] = []
    failures: list[str] = []
    pending = iter(bodies)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as http:

        async def client() -> None:
            for body in pending:
                if time.monotonic() >= deadline:
                    return
                started = time.perf_counter()
                answer = await http.post(url, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if _failed(answer):
                    failures.append(answer.text[:300])

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    latencies.sort()
    count = len(latencies)
    print(
        json.dumps(
            {
                "requests": count,
                "seconds": elapsed,
                "p50": latencies[count // 2] if count else 0,
                "p99": latencies[min(count - 1, int(count * 0.99))] if count else 0,
                "failures": len(failures),
                "first_failure": failures[0] if failures else None,
            }
        )
    )


if __name__ == "__main__":
    with open(sys.argv[2]) as file:
        loaded = json.load(file)
    extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    asyncio.run(main(sys.argv[1], loaded, float(sys.argv[3]), int(sys.argv[4]), extra))
