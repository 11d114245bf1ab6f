"""Result types shared by the two-sample statistics: :class:`TestResult`, :class:`DistanceResult`.

Both are frozen, slotted dataclasses whose numeric fields are plain Python floats (numpy scalars
are converted on construction), so they print, compare and serialise without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = ["AndersonResult", "DistanceResult", "TestResult"]


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of a two-sample hypothesis test.

    Parameters
    ----------
    statistic
        The test statistic (its meaning is documented by the test that made it).
    p_value
        The p-value under the null hypothesis that both samples share one distribution.

    Examples
    --------
    >>> TestResult(statistic=0.5, p_value=0.25)
    TestResult(statistic=0.5, p_value=0.25)
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    statistic: float
    p_value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistic", float(self.statistic))
        object.__setattr__(self, "p_value", float(self.p_value))


@dataclass(frozen=True, slots=True)
class AndersonResult(TestResult):
    """A :class:`TestResult` from the Anderson-Darling test, which interpolates a table.

    Parameters
    ----------
    statistic
        The normalised k-sample Anderson-Darling statistic.
    p_value
        The interpolated p-value, limited to the tabulated range [0.001, 0.25].
    p_value_clipped
        ``"capped"`` when the true p-value is larger than 0.25 (reported as 0.25),
        ``"floored"`` when it is smaller than 0.001 (reported as 0.001), else None.
    """

    p_value_clipped: Literal["capped", "floored"] | None = None


@dataclass(frozen=True, slots=True)
class DistanceResult:
    """The outcome of a distance or divergence between two samples; it has no p-value.

    Parameters
    ----------
    statistic
        The distance (non-negative; its scale is documented by the function that made it).

    Examples
    --------
    >>> res = DistanceResult(statistic=0.125)
    >>> res.statistic, res.p_value
    (0.125, None)
    """

    statistic: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistic", float(self.statistic))

    @property
    def p_value(self) -> None:
        """Always None: a distance carries no p-value (present for a uniform interface)."""
        return None
