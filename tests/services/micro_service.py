#!/usr/bin/env python3
"""A real NATS micro service (ADR-32 "Service API") built on nats-py's ``nats.micro``.

Used by the integration tests as the thing the data source monitors.

    micro_service.py --url nats://127.0.0.1:4222 --name orders --version 1.2.3 \
        [--instances N] [--description TEXT] [--metadata k=v ...] \
        [--endpoint NAME[:SUBJECT] ...] [--fail-every K] [--delay-ms D] \
        [--prefix '$SRV'] [--queue-group Q] [--stats-data]

* ``--instances N`` starts N independent service instances, each on its OWN NATS
  connection (so each has its own id and answers ``$SRV.*`` on its own).
* ``--endpoint NAME[:SUBJECT]`` (repeatable, default one endpoint ``echo``). Without
  SUBJECT the subject is the endpoint name. All instances share the queue group
  (nats.micro default ``q``), so a request reaches exactly one instance.
* Endpoint handlers echo the request payload; an empty payload is answered with
  ``{"ok":true,"n":<count>}`` where count is the number of requests this endpoint of
  this instance has received, including the current one.
* ``--fail-every K``: every K-th request to an endpoint (counted per instance and per
  endpoint, like the STATS counters) fails with a service error: the handler raises
  ``nats.micro.request.ServiceError("500", ...)`` and nats.micro answers via
  ``Request.respond_error`` (headers ``Nats-Service-Error`` / ``Nats-Service-Error-Code``,
  empty body) and counts it in ``num_errors`` / ``last_error``. (Calling
  ``respond_error`` directly from a handler would NOT be counted by nats.micro.)
* ``--delay-ms D``: each handler sleeps D ms before answering (nats-py runs the
  callbacks of one subscription one at a time, so requests to one endpoint of one
  instance are served sequentially).
* ``--prefix`` changes the control subject prefix (default ``$SRV``; uses a private
  attribute of nats.micro's Service, for cross-account tests).
* ``--description`` / ``--metadata`` not given: nats.micro reports ``description: null``
  and ``metadata: {}``.

Once every instance is started it prints exactly one line ``READY <id1> <id2> ...``
to stdout (flushed). Everything else goes to stderr. It runs until SIGTERM/SIGINT or
until stdin reaches EOF (stdin is only watched when it is a pipe or a socket, so running
it with stdin=/dev/null, as in CI, does not stop it at once), then stops the services,
closes the connections and exits 0. If a connection is lost for good (server gone for
~10 s, see --max-reconnect-attempts) it stops everything and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import stat
import sys
from typing import Dict, List, Optional, Tuple

import nats
from nats.micro.request import Request, ServiceError
from nats.micro.service import Service, ServiceConfig


def log(*args: object) -> None:
    print("micro_service:", *args, file=sys.stderr, flush=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="NATS micro service for tests (nats-py nats.micro)")
    p.add_argument("--url", default="nats://127.0.0.1:4222", help="NATS server URL (comma-separated list allowed)")
    p.add_argument("--name", default="orders", help="service name")
    p.add_argument("--version", default="1.0.0", help="service version (semver)")
    p.add_argument("--instances", type=int, default=1, help="number of instances, each on its own connection")
    p.add_argument("--description", default=None, help="service description (default: not set)")
    p.add_argument("--metadata", action="append", default=[], metavar="K=V", help="service metadata, repeatable")
    p.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME[:SUBJECT]",
        help="endpoint, repeatable (default: one endpoint 'echo')",
    )
    p.add_argument("--fail-every", type=int, default=0, metavar="K", help="every K-th request to an endpoint fails")
    p.add_argument("--delay-ms", type=float, default=0.0, metavar="D", help="handler sleeps D ms")
    p.add_argument("--prefix", default="$SRV", help="control subject prefix (default $SRV)")
    p.add_argument("--queue-group", default=None, help="queue group (default: nats.micro's 'q')")
    p.add_argument(
        "--max-reconnect-attempts",
        type=int,
        default=10,
        help="reconnect attempts after losing the server before exiting 1 (default 10, about 10 s)",
    )
    p.add_argument(
        "--stats-data",
        action="store_true",
        help='custom STATS data per endpoint via stats_handler: {"queue": {"depth": 7, "name": "py"}, "jobs_total": num_requests}',
    )
    p.add_argument("--connect-concurrency", type=int, default=50, help="instances connected in parallel")
    args = p.parse_args(argv)
    if args.instances < 1:
        p.error("--instances must be >= 1")
    if args.fail_every < 0:
        p.error("--fail-every must be >= 0")
    md: Dict[str, str] = {}
    for kv in args.metadata:
        if "=" not in kv:
            p.error(f"--metadata expects K=V, got {kv!r}")
        k, v = kv.split("=", 1)
        md[k] = v
    args.metadata_dict = md if md else None
    eps: List[Tuple[str, Optional[str]]] = []
    for e in args.endpoint or ["echo"]:
        name, _, subject = e.partition(":")
        eps.append((name, subject or None))
    args.endpoints = eps
    return args


def make_handler(fail_every: int, delay_ms: float):
    count = 0

    async def handler(req: Request) -> None:
        nonlocal count
        count += 1
        n = count
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000.0)
        if fail_every and n % fail_every == 0:
            # nats.micro catches this, counts it (num_errors, last_error) and answers
            # with respond_error(code, description).
            raise ServiceError("500", f"simulated failure (request {n}, fail-every {fail_every})")
        data = req.data
        if not data:
            data = json.dumps({"ok": True, "n": n}, separators=(",", ":")).encode()
        await req.respond(data)

    return handler


async def start_instance(args: argparse.Namespace, idx: int, on_closed) -> Tuple[nats.NATS, Service]:
    async def closed_cb() -> None:
        on_closed(idx)

    async def error_cb(e: Exception) -> None:
        log(f"instance {idx}: connection error: {e!r}")

    servers = [u.strip() for u in args.url.split(",") if u.strip()]
    nc = await nats.connect(
        servers=servers,
        name=f"{args.name}-micro-{idx}",
        connect_timeout=5,
        reconnect_time_wait=0.5,
        max_reconnect_attempts=args.max_reconnect_attempts,
        closed_cb=closed_cb,
        error_cb=error_cb,
    )
    config = ServiceConfig(
        name=args.name,
        version=args.version,
        description=args.description,
        metadata=dict(args.metadata_dict) if args.metadata_dict else None,
        queue_group=args.queue_group,
        stats_handler=(
            (lambda ep: {"queue": {"depth": 7, "name": "py"}, "jobs_total": ep.num_requests})
            if args.stats_data
            else None
        ),
    )
    svc = Service(nc, config)
    svc._prefix = args.prefix  # nats.micro has no public option for it
    await svc.start()
    for ep_name, ep_subject in args.endpoints:
        await svc.add_endpoint(
            name=ep_name,
            subject=ep_subject,
            handler=make_handler(args.fail_every, args.delay_ms),
        )
    await nc.flush()
    return nc, svc


def stdin_is_watchable() -> bool:
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def main() -> int:
    args = parse_args()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    exit_code = 0
    stopping = False

    def request_stop(reason: str, code: int = 0) -> None:
        nonlocal exit_code
        if not stop.is_set():
            log(f"stopping: {reason}")
            exit_code = code
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, sig.name)

    if stdin_is_watchable():
        stdin_fd = sys.stdin.fileno()

        def on_stdin() -> None:
            try:
                chunk = os.read(stdin_fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                loop.remove_reader(stdin_fd)
                request_stop("stdin closed")

        os.set_blocking(stdin_fd, False)
        loop.add_reader(stdin_fd, on_stdin)

    def on_closed(idx: int) -> None:
        if not stopping:
            request_stop(f"connection of instance {idx} closed", 1)

    instances: List[Tuple[nats.NATS, Service]] = []
    sem = asyncio.Semaphore(max(1, args.connect_concurrency))

    async def start_one(i: int):
        async with sem:
            return await start_instance(args, i, on_closed)

    start_task = asyncio.ensure_future(asyncio.gather(*(start_one(i) for i in range(args.instances))))
    stop_task = asyncio.ensure_future(stop.wait())
    await asyncio.wait({start_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    if start_task.done() and start_task.exception() is None:
        instances = list(start_task.result())
        print("READY " + " ".join(svc.id for _, svc in instances), flush=True)
        await stop.wait()
    elif start_task.done():
        log(f"start failed: {start_task.exception()!r}")
        exit_code = 2
    else:
        start_task.cancel()
        try:
            await start_task
        except BaseException:
            pass

    stopping = True
    stop_task.cancel()

    async def shutdown(nc: nats.NATS, svc: Service) -> None:
        try:
            if nc.is_connected:
                await asyncio.wait_for(svc.stop(), 2)
        except Exception as e:  # noqa: BLE001
            log(f"service stop: {e!r}")
        try:
            await asyncio.wait_for(nc.close(), 2)
        except Exception as e:  # noqa: BLE001
            log(f"close: {e!r}")

    await asyncio.gather(*(shutdown(nc, svc) for nc, svc in instances))
    return exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
