"""The shape of the settings the policy reads: structural types of ``policy:``.

:class:`watchkeeper.config.PolicyConfig` (pydantic, validated from ``watchkeeper.yaml``) is
what callers pass. The policy is part of the core, which never imports the configuration
layer, so it states here only the attributes it reads; any object that has them will do
(mypy checks that ``PolicyConfig`` does). Validation of the values is the config's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import timedelta

__all__ = [
    "ConceptDriftSettings",
    "DataQualitySettings",
    "DriftSettings",
    "PerformanceSettings",
    "PolicySettings",
    "ScheduleSettings",
    "TriggersSettings",
]


class ScheduleSettings(Protocol):
    """``policy.triggers.schedule``: ``every`` or ``cron`` (five fields, UTC), and the action."""

    @property
    def every(self) -> timedelta | None: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def action(self) -> str: ...


class PerformanceSettings(Protocol):
    """``policy.triggers.performance``."""

    @property
    def enabled(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def metrics(self) -> Sequence[str] | None: ...
    @property
    def floor(self) -> Mapping[str, float]: ...
    @property
    def max_drop(self) -> float | None: ...
    @property
    def min_labeled_rows(self) -> int: ...


class DriftSettings(Protocol):
    """``policy.triggers.drift``."""

    @property
    def enabled(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def share(self) -> float | None: ...
    @property
    def features(self) -> Sequence[str]: ...
    @property
    def multivariate(self) -> bool: ...


class DataQualitySettings(Protocol):
    """``policy.triggers.data_quality``."""

    @property
    def enabled(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def checks(self) -> Sequence[str] | None: ...


class ConceptDriftSettings(Protocol):
    """``policy.triggers.concept_drift``."""

    @property
    def enabled(self) -> bool: ...
    @property
    def action(self) -> str: ...
    @property
    def detectors(self) -> Sequence[str] | None: ...


class TriggersSettings(Protocol):
    """``policy.triggers``: ``schedule`` is None unless configured."""

    @property
    def schedule(self) -> ScheduleSettings | None: ...
    @property
    def performance(self) -> PerformanceSettings: ...
    @property
    def drift(self) -> DriftSettings: ...
    @property
    def data_quality(self) -> DataQualitySettings: ...
    @property
    def concept_drift(self) -> ConceptDriftSettings: ...


class PolicySettings(Protocol):
    """``policy:`` as :func:`watchkeeper.policy.evaluate` reads it."""

    @property
    def triggers(self) -> TriggersSettings: ...
    @property
    def combine(self) -> str: ...
    @property
    def consecutive(self) -> int: ...
    @property
    def cooldown(self) -> timedelta: ...
    @property
    def max_actions(self) -> int: ...
    @property
    def per(self) -> timedelta: ...
