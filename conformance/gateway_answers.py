"""What the gateway answers and how it reads, asked of its own command line (as `hgw conformance preset` registers
parties): the trust suite answers a trust's export with `hgw simulate answer-export`, and the provider suite reads a
provider's bill with `hgw invoices read`. Each is a subprocess: the kit calls nothing inside the gateway, and what it
accepts or refuses is exactly what the gateway would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from adapters.registry import adapter_for
from conformance.errors import UsageError

HGW_SECONDS = 180.0
"""The longest one `hgw` command may take before the suite gives up on it."""
BILL_KINDS = {"/FHIR/R4/Claim": "claim", "/FHIR/R4/Invoice": "invoice", "/api/v1/invoices": "csv"}
"""Where a provider posts a bill (docs/invoicing.md), and what `hgw invoices read --as` calls it."""


async def answer_export(
    body: bytes, content_type: str, provider_ods: str, *, bundles: bool = False
) -> tuple[int, dict[str, Any]]:
    """The gateway's answer to a trust's export or message, organisations stood in: 200 when every prescription
    is accepted, 422 when not, 415 when no adapter reads the Content-Type. With `bundles`, each accepted
    prescription's outcome carries the EPS bundle the gateway builds for it."""
    adapter = adapter_for(content_type)
    if adapter is None:
        return 415, {"error": "UNSUPPORTED_MEDIA_TYPE", "message": f"no adapter accepts Content-Type {content_type!r}"}
    flags = ("--bundles",) if bundles else ()
    code, document = await _hgw(
        body, "simulate", "answer-export", "--format", adapter.name, "--provider", provider_ods, *flags
    )
    if code not in (0, 1, 2):
        raise UsageError(f"hgw simulate answer-export failed (exit {code})")
    document["file_rejected"] = bool(document["file_errors"])
    return (200 if code == 0 else 422), document


async def read_bill(path: str, body: bytes, provider_ods: str) -> dict[str, Any]:
    """The bill posted to `path` as the gateway reads it: `{"lines": [...]}`, else `{"issues": [...]}`."""
    kind = next((k for suffix, k in BILL_KINDS.items() if path.endswith(suffix)), None)
    if kind is None:
        return {"issues": [{"message": f"{path} is not where a bill is posted", "location": "path"}]}
    code, document = await _hgw(body, "invoices", "read", "--as", kind, "--provider", provider_ods)
    if code not in (0, 1):
        raise UsageError(f"hgw invoices read failed (exit {code})")
    return document


async def _hgw(body: bytes, *args: str) -> tuple[int, dict[str, Any]]:
    """`hgw ARGS FILE` on `body` written to a temporary file: its exit code and the JSON it printed."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "payload"
        file.write_bytes(body)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", *args[:2], str(file), *args[2:],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), HGW_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise UsageError(f"hgw {' '.join(args[:2])} took more than {HGW_SECONDS:g} s") from None
    try:
        return process.returncode or 0, json.loads(out)
    except ValueError:
        raise UsageError(f"hgw {' '.join(args[:2])} failed: {err.decode(errors='replace').strip()[:300]}") from None
