"""Streaming concept-drift detectors for a model's error stream (River 0.26-exact, fast).

Each detector has ``update(x) -> self``, ``update_many(values) -> drift indices``,
read-only ``drift_detected`` / ``warning_detected``, ``reset()`` and ``to_dict``/``from_dict``.
"""

from __future__ import annotations

__all__: list[str] = []
