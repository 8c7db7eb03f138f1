"""The campaign's homecare provider: a plain HTTP/1.1 server on loopback, run as a process of its own.

`POST /FHIR/R4/$process-message` receives an order and fails as the schedule says (`gateway.bench.faults.schedule`).
The receiver behaves as providers are told to: it applies an order at most once, keyed by MessageHeader.id, so
a resend is counted as a duplicate delivery and changes nothing. It also keys each effect by the prescription
(short-form id and message event): if the gateway ever sent one prescription's order under two message ids,
both would take effect, and that is what `duplicate_effects` counts. `GET /_report` returns the ledger;
`POST /_mix` changes the mix between the campaign's phases.

It is written on asyncio streams rather than a framework because it must misbehave at the byte level: answer
late, send half a response and drop the connection, or hang up without answering.

    python -m gateway.bench.faults.receiver --ods VNPSH --mix ok=1 --seed 1 --slow 1.0
prints `{"port": N}` on one line once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.parties.provider_messages import acknowledgement
from gateway.bench.faults.schedule import APPLIES_FIRST, WORKER_FAULTS, FaultMix, Schedule

FAULT_HEADER = "X-Hgw-Fault"
"""Marks a 200 answer with a fault the worker carries out itself (`schedule.WORKER_FAULTS`)."""
PATH = "/FHIR/R4/$process-message"
_MAX_BODY = 16 * 1024 * 1024


@dataclass
class Ledger:
    """What the provider received and applied."""

    receipts: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    by_order: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    first_receipt: dict[str, float] = field(default_factory=dict)
    unreadable: int = 0

    def receive(self, message_id: str) -> None:
        self.receipts[message_id] += 1
        self.first_receipt.setdefault(message_id, time.time())

    def apply(self, message_id: str, order_key: str) -> None:
        """Apply an order once: a message id seen before changes nothing."""
        if self.applied[message_id]:
            return
        self.applied[message_id] = 1
        self.by_order[order_key] += 1

    def report(self, *, times: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "receipts": sum(self.receipts.values()),
            "messages_received": len(self.receipts),
            "duplicate_deliveries": sum(n - 1 for n in self.receipts.values()),
            "applied": sorted(self.applied),
            "duplicate_effects": sum(n - 1 for n in self.by_order.values() if n > 1),
            "faults": dict(sorted(self.faults.items())),
            "unreadable_requests": self.unreadable,
        }
        if times:
            out["first_receipt"] = self.first_receipt
        return out


class Receiver:
    def __init__(self, provider_ods: str, mix: FaultMix, *, seed: int, slow_seconds: float) -> None:
        self.ods = provider_ods
        self.seed = seed
        self.schedule = Schedule(mix, seed)
        self.slow_seconds = slow_seconds
        self.ledger = Ledger()
        self.source = "http://127.0.0.1/provider"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request on a kept-alive connection; False when the connection is to be closed."""
        line = await reader.readline()
        if not line:
            return False
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > _MAX_BODY:
            return False
        body = await reader.readexactly(length) if length else b""
        if method == "GET" and target.startswith("/_report"):
            await _respond(writer, 200, json.dumps(self.ledger.report(times="times=1" in target)).encode())
            return True
        if method == "POST" and target == "/_mix":  # the campaign changes the mix between its phases
            self.schedule = Schedule(FaultMix.parse(body.decode()), self.seed + 1)
            await _respond(writer, 200, b"{}")
            return True
        if method != "POST" or target != PATH:
            await _respond(writer, 404, b'{"error":"not found"}')
            return True
        return await self._order(writer, body)

    async def _order(self, writer: asyncio.StreamWriter, body: bytes) -> bool:
        try:
            message_id, order_key = _identify(json.loads(body))
        except (ValueError, KeyError, IndexError, TypeError):
            self.ledger.unreadable += 1
            await _respond(writer, 400, b'{"error":"not a prescription-order message"}')
            return True
        self.ledger.receive(message_id)
        fault = self.schedule.next()
        self.ledger.faults[fault] += 1
        if fault in APPLIES_FIRST:
            self.ledger.apply(message_id, order_key)
        ack = json.dumps(acknowledgement(self.ods, message_id, self.source)).encode()
        if fault == "http-500" or fault == "effect-then-500":
            await _respond(writer, 500, b'{"error":"internal error"}')
        elif fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            await _respond(writer, 200, ack)
        elif fault == "drop-mid-response":
            writer.write(_head(200, len(ack)) + ack[: len(ack) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        elif fault == "abort":
            writer.transport.abort()
            return False
        elif fault in WORKER_FAULTS:
            await _respond(writer, 200, ack, extra={FAULT_HEADER: fault})
        else:
            await _respond(writer, 200, ack)
        return True


def _identify(bundle: dict[str, Any]) -> tuple[str, str]:
    """The order's MessageHeader.id and its effect key: the prescription's short-form id and the event."""
    entries = [e["resource"] for e in bundle["entry"]]
    header = entries[0]
    if header["resourceType"] != "MessageHeader":
        raise ValueError("the first entry is not a MessageHeader")
    request = next(r for r in entries if r["resourceType"] == "MedicationRequest")
    return str(header["id"]), f"{request['groupIdentifier']['value']}/{header['eventCoding']['code']}"


def _head(status: int, length: int, extra: dict[str, str] | None = None) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}[status]
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/fhir+json", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
    writer.write(_head(status, len(body), extra) + body)
    await writer.drain()


async def serve(args: argparse.Namespace) -> None:
    receiver = Receiver(args.ods, FaultMix.parse(args.mix), seed=args.seed, slow_seconds=args.slow)
    server = await asyncio.start_server(receiver.handle, args.host, args.port, backlog=512)
    port = server.sockets[0].getsockname()[1]
    receiver.source = f"http://{args.host}:{port}/provider"
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ods", required=True)
    parser.add_argument("--mix", default="ok=1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slow", type=float, default=1.0, help="seconds a slow answer takes")
    parser.add_argument("--exit-with-parent", action="store_true", help="exit when stdin closes (the parent ended)")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        threading.Thread(target=_exit_at_eof, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


def _exit_at_eof() -> None:
    """A driver that died (even by SIGKILL) closes our stdin: do not outlive it."""
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    main()
