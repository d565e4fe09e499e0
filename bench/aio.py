#!/usr/bin/env python3
"""Benchmark (not a test): the asyncio client beside aiobotocore, UpdateContact against the
same local server (nginx answering 200 as bench/run.py configures it, else the emulator),
at concurrency 1, 8 and 64 from one event loop. Prints calls/s and per-call latency
(p50, p99) for each.

    pip install ./bindings/python aiobotocore
    python bench/aio.py [--calls 2000] [--emulator-bin target/release/connect-emulator]

Each client gets as many connections as tasks: ours `async_workers` = concurrency (the
library's threads that make the calls), aiobotocore `max_pool_connections` = concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import KEY, SECRET, start_server  # noqa: E402  (bench/run.py: nginx or the emulator)

Call = Callable[[int], Awaitable[Any]]


async def measure(call: Call, concurrency: int, calls: int) -> Dict[str, float]:
    latencies: List[float] = []
    counter = iter(range(calls))

    async def worker() -> None:
        for n in counter:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)

    for n in range(min(50, calls)):  # warm-up: connections, credentials, first-use paths
        await call(n)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def ours(url: str, concurrency: int, calls: int) -> Dict[str, float]:
    from connect_contact import aio

    async with aio.Client(
        region_name="us-east-1", endpoint_url=url, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config={"async_workers": concurrency},
    ) as client:
        return await measure(
            lambda n: client.update_contact(InstanceId="bench-i", ContactId=f"c-{n % 100}", Name="bench"),
            concurrency, calls,
        )


async def aiobotocore_client(url: str, concurrency: int, calls: int) -> Dict[str, float]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    config = AioConfig(max_pool_connections=concurrency, retries={"mode": "standard"})
    async with session.create_client(
        "connect", region_name="us-east-1", endpoint_url=url, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET, config=config,
    ) as client:
        return await measure(
            lambda n: client.update_contact(InstanceId="bench-i", ContactId=f"c-{n % 100}", Name="bench"),
            concurrency, calls,
        )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=2000, help="timed calls per client and concurrency")
    p.add_argument("--emulator-bin", default="target/release/connect-emulator")
    p.add_argument("--emulator", action="store_true", help="use the emulator even when nginx exists")
    args = p.parse_args()
    import aiobotocore
    import connect_contact

    with tempfile.TemporaryDirectory() as tmp:
        proc, port, server = start_server(tmp, args.emulator_bin, args.emulator)
        try:
            url = f"http://127.0.0.1:{port}"
            print(f"server: {server}; {args.calls} calls each; Python {sys.version.split()[0]}; "
                  f"connect_contact {connect_contact.__version__}, aiobotocore {aiobotocore.__version__}")
            print(f"{'client':<24}{'concurrency':>12}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
            for concurrency in (1, 8, 64):
                for name, run in (("connect_contact.aio", ours), ("aiobotocore", aiobotocore_client)):
                    r = asyncio.run(run(url, concurrency, args.calls))
                    print(f"{name:<24}{concurrency:>12}{r['calls_per_s']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}",
                          flush=True)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
