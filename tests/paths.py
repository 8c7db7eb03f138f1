"""Where test data lives. `shared/` holds copies of the public EPS examples and dm+d reference data."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SHARED = DATA / "shared"
EPS_EXAMPLES = SHARED / "eps-examples"
REFERENCE = SHARED / "reference"
