"""A number of seconds read from a setting (an environment variable), the same way for every setting that is one."""

from __future__ import annotations

import math
from typing import Mapping, Type


def seconds_setting(
    env: Mapping[str, str], name: str, default: float, least: float = 0.0, error: Type[Exception] = ValueError
) -> float:
    """``env[name]`` as seconds, ``default`` when unset or blank; ``error`` naming the variable when it is not a
    finite number or is below ``least``, so a typo in a deployment stops the start instead of waiting forever."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise error(f"{name}={raw!r} must be a number of seconds") from None
    if not math.isfinite(value):
        raise error(f"{name}={raw!r} must be a number of seconds")
    if value < least:
        raise error(f"{name}={raw!r} must be at least {least:g}")
    return value
