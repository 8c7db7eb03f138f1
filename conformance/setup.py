"""`hgw conformance preset`: register the test parties with the gateway's own command line (`hgw providers add`,
`hgw clients add`), and what EPS needs of the test trusts (`hgw organisations add|contact`) where the store has
none yet. Each is a subprocess, as an operator on the gateway's host would type it: the suite calls nothing inside
the gateway."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.client_auth import ClientKey, new_key_pair
from conformance.context import Party
from conformance.errors import UsageError

# The trusts the gateway's samples know (NHS ODS): name, address lines, postcode, telephone. Any other trust gets a
# stand-in; telephone numbers are from Ofcom's range reserved for drama, so no real line is ever called.
_TRUSTS = {
    "RBA": ("TAUNTON AND SOMERSET NHS FOUNDATION TRUST", "MUSGROVE PARK HOSPITAL, TAUNTON", "TA1 5DA", "01823 333444"),
    "RHM": ("UNIVERSITY HOSPITAL SOUTHAMPTON NHS FOUNDATION TRUST", "TREMONA ROAD, SOUTHAMPTON", "SO16 6YD",
            "01632 960001"),
    "RTH": ("OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST", "JOHN RADCLIFFE HOSPITAL, HEADLEY WAY, OXFORD",
            "OX3 9DU", "01632 960002"),
    "RRE": ("MIDLANDS PARTNERSHIP UNIVERSITY NHS FOUNDATION TRUST", "ST GEORGES HOSPITAL, CORPORATION STREET, STAFFORD",
            "ST16 3SR", "01632 960003"),
}  # fmt: skip
STAND_IN = ("STAND-IN ADDRESS", "LS1 4HR", "01632 960999")
TEAM_CONTACT = ("01632 960100", "R8000")
"""The homecare team line of a test trust, its prescribers clinical practitioners (SDS job role R8000)."""

Run = Callable[..., Any]
"""`hgw ARGS…` and the JSON it prints (`Hgw`, or a fake in tests)."""


class Hgw:
    """The gateway's command line, run as a subprocess with the global options this command was given."""

    def __init__(self, global_args: list[str]) -> None:
        self.global_args = global_args

    def __call__(self, *args: str) -> Any:
        """The JSON the command prints; UsageError with its error output when it fails."""
        command = [sys.executable, "-m", "gateway.cli", *self.global_args, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
        if done.returncode != 0:
            raise UsageError(f"hgw {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
        return json.loads(done.stdout)


def register_preset(hgw: Run, ods: dict[str, str]) -> dict[str, Party]:
    """A fresh key pair per party, registered as a client; the providers registered (pull) if they are not yet."""
    known = {p["ods"] for p in hgw("providers", "list")}
    for name in ("provider", "other_provider"):
        if ods[name] not in known:
            hgw("providers", "add", "--ods", ods[name], "--name", f"Conformance test provider {ods[name]}",
                "--mode", "pull")  # fmt: skip
    _configure_trusts(hgw, [code for name, code in ods.items() if name.endswith("trust")])
    parties = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, code in ods.items():
            role = "trust" if name.endswith("trust") else "provider"
            pem, jwks, kid = new_key_pair()
            public = Path(folder) / f"{name}.jwks.json"
            public.write_text(json.dumps(jwks))
            added = hgw("clients", "add", "--role", role, "--ods", code, "--jwks", str(public), "--alg", "ES384")
            parties[name] = Party(name, code, ClientKey(str(added["client_id"]), pem, kid, "ES384"))
    return parties


def _configure_trusts(hgw: Run, trusts: list[str]) -> None:
    """The sample (or stand-in) organisation and team contact of each test trust the directory lacks."""
    directory = hgw("organisations", "list")
    known = {o["ods"] for o in directory["organisations"]}
    contacts = {c["trust_ods"] for c in directory["team_contacts"]}
    for trust in trusts:
        if trust not in known:
            name, lines, postcode, telecom = _TRUSTS.get(trust, (f"ORGANISATION {trust}", *STAND_IN))
            hgw("organisations", "add", "--ods", trust, "--name", name, "--address", f"{lines}, {postcode}",
                "--telecom", telecom)  # fmt: skip
        if trust not in contacts:
            telecom, job_role = TEAM_CONTACT
            hgw("organisations", "contact", "--ods", trust, "--telecom", telecom, "--job-role", job_role)
