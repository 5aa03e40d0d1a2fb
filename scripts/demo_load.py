#!/usr/bin/env python3
"""Demo traffic for the demo micro services, so STATS panels show requests, errors and latency.

    demo_load.py --url nats://127.0.0.1:4222 --subject orders.get --subject billing.charge [--rate 20]

Sends requests to each subject at about RATE per second in total, in bursts that come and
go (every ~30 s the rate triples for ~10 s), ignoring errors and timeouts. Runs until
SIGTERM/SIGINT.
"""
import argparse
import asyncio
import itertools
import signal
import time

import nats
from nats.errors import NoRespondersError, TimeoutError


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="nats://127.0.0.1:4222")
    p.add_argument("--subject", action="append", required=True, help="subject to request, repeatable")
    p.add_argument("--rate", type=float, default=20.0, help="requests per second in total (default 20)")
    args = p.parse_args()

    nc = await nats.connect(args.url, max_reconnect_attempts=-1)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    started = time.monotonic()
    pending = set()

    async def one(subject: str) -> None:
        try:
            await nc.request(subject, b"", timeout=2)
        except (NoRespondersError, TimeoutError, nats.errors.Error):
            pass

    for subject in itertools.cycle(args.subject):
        if stop.is_set():
            break
        burst = 3.0 if (time.monotonic() - started) % 30 < 10 else 1.0
        t = asyncio.create_task(one(subject))
        pending.add(t)
        t.add_done_callback(pending.discard)
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0 / (args.rate * burst))
        except asyncio.TimeoutError:
            pass
    await asyncio.gather(*pending, return_exceptions=True)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
