"""The reliability tests use the HA harness's database helpers (tests/ha/cluster.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ha"))
