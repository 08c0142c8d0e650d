"""JSON that is always valid: what the API answers and what notifications send.

Imports: the standard library only.
"""

from __future__ import annotations

import math
from typing import Any


def portable(value: Any) -> Any:
    """``value`` with every float that JSON cannot carry (inf, -inf, nan) as its text (a
    policy can compute one; ``json.dumps`` would write the invalid ``Infinity``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable(v) for v in value]
    return value
