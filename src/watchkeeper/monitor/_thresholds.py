"""Thresholds learned from chunks of the reference, and the consecutive-breach rule.

:class:`ChunkStats` holds the values each check took over chunks of the reference (gathered by
:func:`~watchkeeper.monitor.chunked.reference_chunk_stats` at fit time);
:func:`apply_learned_thresholds` re-decides a report against bands learned from them, and
:func:`apply_consecutive` keeps an alert only when it lasts for several chunks in a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from watchkeeper._validate import check_int, check_number
from watchkeeper.errors import InvalidParameterError, SerializationError
from watchkeeper.monitor.report import Report

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from watchkeeper.results import CheckResult, Status

__all__ = [
    "LEARNABLE_QUALITY",
    "ChunkSeries",
    "ChunkStats",
    "apply_consecutive",
    "apply_learned_thresholds",
    "result_direction",
]

StatKey = tuple[str, str | None, str | None]
"""``(check, column, segment)``: what a value in :class:`ChunkStats` is about."""

LEARNABLE_QUALITY = (
    "quality.missing_rate",
    "quality.outlier_rate",
    "quality.non_finite",
    "quality.type_violations",
)
"""Quality checks whose reference-chunk values are an unbiased sample of a window's value.

With every ``performance.*`` metric except calibration, these are the checks that learn their
thresholds from reference chunks (a rate or a mean, whose spread shrinks as 1/sqrt(n)). Drift
distances, out-of-range and unseen shares, top-value shares, cardinality and duplicates are
not: a chunk of the reference is inside the reference's own range and categories, so its
value is biased low (or depends on n beyond the spread), and a learned limit would fire on
clean windows. Those keep their own rules in ``compare_chunks``.
"""

_ERROR_METRICS = ("log_loss", "brier", "mae", "mse", "rmse", "mape", "calibration")
_STATE_FORMAT = "watchkeeper-chunk-stats"
_STATE_VERSION = 1


def _key(result: CheckResult) -> StatKey:
    return (result.check, result.column, result.segment)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# ---------------------------------------------------------------------- reference statistics


@dataclass(frozen=True, slots=True)
class ChunkSeries:
    """The values one check took over the reference chunks, and the rows behind each.

    Parameters
    ----------
    values
        The check's value in each chunk where it ran (finite).
    sizes
        Rows the check used in each of those chunks (``CheckResult.n``), each at least 1.
    """

    values: tuple[float, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.values)
        sizes = tuple(int(n) for n in self.sizes)
        if not values or len(values) != len(sizes):
            raise InvalidParameterError(
                "ChunkSeries needs one size per value and at least one value. Got "
                f"{len(values)} values and {len(sizes)} sizes instead."
            )
        if not all(math.isfinite(v) for v in values) or min(sizes) < 1:
            raise InvalidParameterError(
                "ChunkSeries needs finite values and sizes of at least 1 row. Got values "
                f"{values!r} and sizes {sizes!r} instead."
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "sizes", sizes)

    def multiplier(self, k: float) -> float:
        """The band's half-width in spreads for a nominal ``k``: the Student-t prediction
        multiplier ``t_{C-1}(Φ(k)) · sqrt(1 + 1/C)`` over ``C`` chunks (``k`` itself when the
        spread is known exactly, C → ∞)."""
        c = len(self.values)
        if c < 2 or k == 0:
            return k
        from scipy import special

        return float(special.stdtrit(c - 1, special.ndtr(k)) * math.sqrt(1.0 + 1.0 / c))

    def band(self, n: int, k: float) -> tuple[float, float, float]:
        """``(mean, mean - k'·σ₁/√n, mean + k'·σ₁/√n)``, ``k' = multiplier(k)``; see
        :class:`ChunkStats` for σ₁."""
        m = np.asarray(self.values, dtype=np.float64)
        sizes = np.asarray(self.sizes, dtype=np.float64)
        mu = float(m.mean())
        dof = max(len(m) - 1, 1)
        sigma_1 = float(np.sqrt(np.sum((m - mu) ** 2 * sizes) / dof))
        half = self.multiplier(k) * sigma_1 / math.sqrt(n)
        return mu, mu - half, mu + half


@dataclass(frozen=True, slots=True)
class ChunkStats:
    """What each check measured over chunks of the reference: the basis of learned thresholds.

    Parameters
    ----------
    series
        ``(check, column, segment)`` -> :class:`ChunkSeries`. Copied into a read-only mapping.
    n_chunks
        Number of reference chunks the statistics come from (a check may have run in fewer).

    Notes
    -----
    For a key with chunk values :math:`m_i` over :math:`n_i` rows (:math:`i = 1..C`), let
    :math:`\\mu = \\frac1C \\sum_i m_i` and the unit-size spread

    .. math:: \\sigma_1 = \\sqrt{\\tfrac{1}{C-1} \\textstyle\\sum_i (m_i - \\mu)^2\\, n_i}.

    A value measured over :math:`n` rows varies by about :math:`\\sigma_1/\\sqrt n` (true for
    means and rates), so multiplying each squared deviation by its chunk size makes chunks of
    unequal size comparable, and the band for a window of :math:`n` rows is
    :math:`\\mu \\pm k'\\,\\sigma_1/\\sqrt n`: a window four times the chunk size gets a band
    half as wide. ``k`` (default 3) is the nominal normal multiplier; as :math:`\\sigma_1` is
    estimated from only :math:`C` chunks, the band uses the Student-t prediction multiplier
    :math:`k' = t_{C-1}^{-1}(\\Phi(k))\\sqrt{1 + 1/C}` (4.5 for k = 3 over 10 chunks, 3.7 over
    20), so that a clean window breaches it as rarely as ``k`` promises. Reference chunks
    are part of the data the baseline was fitted on, so their values are slightly
    optimistic; a constant check (e.g. a missing rate of 0 in every chunk) has a zero-width
    band, and a move to the bad side breaches it (an alert then also needs the check's own
    significance test, see :func:`apply_learned_thresholds`).

    Examples
    --------
    >>> series = [0.10, 0.12, 0.09, 0.11, 0.10, 0.08, 0.12, 0.10, 0.09, 0.11]
    >>> stats = ChunkStats({("quality.missing_rate", "age", None):
    ...                     ChunkSeries(tuple(series), (1_000,) * 10)}, n_chunks=10)
    >>> [round(x, 4) for x in stats.learned_band("quality.missing_rate", "age", None, 1_000, k=3)]
    [0.102, 0.0455, 0.1585]
    """

    series: Mapping[StatKey, ChunkSeries]
    n_chunks: int

    def __post_init__(self) -> None:
        series = dict(self.series)
        for key, value in series.items():
            if not (
                isinstance(key, tuple)
                and len(key) == 3
                and isinstance(key[0], str)
                and all(x is None or isinstance(x, str) for x in key[1:])
            ):
                raise InvalidParameterError(
                    "The keys of ChunkStats.series must be (check, column, segment) tuples. "
                    f"Got {key!r} instead."
                )
            if not isinstance(value, ChunkSeries):
                raise InvalidParameterError(
                    f"ChunkStats.series[{key!r}] must be a ChunkSeries. "
                    f"Got {type(value).__name__} instead."
                )
        object.__setattr__(self, "series", MappingProxyType(series))
        object.__setattr__(
            self, "n_chunks", check_int("ChunkStats", "n_chunks", self.n_chunks, low=0)
        )

    @classmethod
    def from_reports(cls, reports: Sequence[Report]) -> ChunkStats:
        """Collect the value and row count of every check over the reports of the chunks.

        Skipped results and results without a value are ignored. A result that does not say
        how many rows it used (``n == 0``) counts the rows of its chunk (metadata
        ``chunk_rows``, else ``n_current``); without those its value is ignored too.
        """
        values: dict[StatKey, list[float]] = {}
        sizes: dict[StatKey, list[int]] = {}
        for i, report in enumerate(reports):
            if not isinstance(report, Report):
                raise InvalidParameterError(
                    "ChunkStats.from_reports expects Report items. "
                    f"Got {type(report).__name__} at index {i} instead."
                )
            for result in report.checks:
                n = _rows_used(result, report)
                if result.status == "skipped" or result.value is None or n < 1:
                    continue
                values.setdefault(_key(result), []).append(result.value)
                sizes.setdefault(_key(result), []).append(n)
        series = {k: ChunkSeries(tuple(v), tuple(sizes[k])) for k, v in values.items()}
        return cls(series, n_chunks=len(reports))

    def n_reference_chunks(self, check: str, column: str | None, segment: str | None) -> int:
        """In how many reference chunks the check ran (0 for a key without statistics)."""
        held = self.series.get((check, column, segment))
        return 0 if held is None else len(held.values)

    def learned_band(
        self, check: str, column: str | None, segment: str | None, n: int, *, k: float
    ) -> tuple[float, float, float] | None:
        """``(mean, lower, upper)`` of the band for a window of ``n`` rows, or None.

        None when the key has no statistics.

        Notes
        -----
        With chunk values :math:`m_i` over :math:`n_i` rows, :math:`\\mu` their plain mean
        and :math:`\\sigma_1 = \\sqrt{\\sum_i (m_i - \\mu)^2 n_i / (C - 1)}`, the band is
        :math:`\\mu \\pm k'\\,\\sigma_1/\\sqrt n` with the prediction multiplier :math:`k'`
        (see :class:`ChunkStats`).

        Raises
        ------
        InvalidParameterError
            If ``n`` is not a positive integer or ``k`` is negative.
        """
        n = check_int("ChunkStats.learned_band", "n", n, low=1)
        k = check_number("ChunkStats.learned_band", "k", k, low=0)
        held = self.series.get((check, column, segment))
        return None if held is None else held.band(n, k)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]:
        """``(meta, arrays)``: JSON-safe metadata and numpy arrays that rebuild the statistics.

        ``arrays`` holds ``values`` (float64) and ``sizes`` (int64) of every key one after
        another, and ``offsets`` (int64, one more than keys) where each key's run starts.
        """
        keys = list(self.series)
        runs = [self.series[k] for k in keys]
        lengths = [len(r.values) for r in runs]
        meta = {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "n_chunks": self.n_chunks,
            "keys": [list(k) for k in keys],
        }
        arrays = {
            "values": np.array([v for r in runs for v in r.values], dtype=np.float64),
            "sizes": np.array([n for r in runs for n in r.sizes], dtype=np.int64),
            "offsets": np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
        }
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray[Any, Any]]
    ) -> ChunkStats:
        """Rebuild the statistics from :meth:`to_state` output.

        Raises
        ------
        SerializationError
            If the format or version is not this one, or the arrays do not match the keys.
        """
        if meta.get("format") != _STATE_FORMAT or meta.get("version") != _STATE_VERSION:
            raise SerializationError(
                f"The saved chunk statistics have format {meta.get('format')!r} version "
                f"{meta.get('version')!r}; this version of watchkeeper reads {_STATE_FORMAT!r} "
                f"version {_STATE_VERSION}."
            )
        try:
            keys = [(str(c), col, seg) for c, col, seg in meta["keys"]]
            values = np.asarray(arrays["values"], dtype=np.float64)
            sizes = np.asarray(arrays["sizes"], dtype=np.int64)
            offsets = np.asarray(arrays["offsets"], dtype=np.int64)
            if len(offsets) != len(keys) + 1 or offsets[0] != 0 or offsets[-1] != len(values):
                raise ValueError("offsets do not match the keys and values")
            if len(sizes) != len(values) or np.any(np.diff(offsets) < 1):
                raise ValueError("every key needs at least one value and one size per value")
            series = {
                key: ChunkSeries(tuple(values[lo:hi].tolist()), tuple(sizes[lo:hi].tolist()))
                for key, lo, hi in zip(
                    keys, offsets[:-1].tolist(), offsets[1:].tolist(), strict=True
                )
            }
            return cls(series, n_chunks=int(meta["n_chunks"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"The saved chunk statistics are malformed: {exc}") from exc


def _rows_used(result: CheckResult, report: Report) -> int:
    if result.n > 0:
        return result.n
    meta = report.metadata
    return int(meta.get("chunk_rows") or meta.get("n_current") or 0)


# ---------------------------------------------------------------------- learned thresholds


def result_direction(result: CheckResult) -> Literal["upper", "lower"]:
    """Which side of a result's value is bad: ``"upper"`` (higher is worse) or ``"lower"``.

    ``details["direction"]`` of ``"higher_is_better"`` (-> lower) or ``"lower_is_better"``
    (-> upper) wins; other values of it are ignored. Otherwise ``performance.*`` metrics are
    ``lower`` except the error metrics ``log_loss``, ``brier``, ``mae``, ``mse``, ``rmse``,
    ``mape`` and ``calibration`` (names starting with one of them and ``_``, such as
    ``brier_score``, count too); every other check (``drift.*``, ``quality.*``...) is ``upper``.
    """
    stated = result.details.get("direction")
    if stated == "higher_is_better":
        return "lower"
    if stated == "lower_is_better":
        return "upper"
    family, _, name = result.check.partition(".")
    if family != "performance":
        return "upper"
    is_error = any(name == m or name.startswith(f"{m}_") for m in _ERROR_METRICS)
    return "upper" if is_error else "lower"


def _check_band(owner: str, k: Any, warning_k: Any, min_chunks: Any) -> tuple[float, float, int]:
    k = check_number(owner, "k", k, low=0, low_open=True)
    warning_k = check_number(owner, "warning_k", warning_k, low=0, low_open=True, high=k)
    return k, warning_k, check_int(owner, "min_chunks", min_chunks, low=2)


def apply_learned_thresholds(
    report: Report,
    stats: ChunkStats,
    *,
    k: float = 3.0,
    warning_k: float = 2.0,
    min_chunks: int = 5,
) -> Report:
    """Re-decide each result against the band learned from the reference chunks.

    Parameters
    ----------
    report
        The report of one window (or chunk).
    stats
        The reference-chunk statistics.
    k, warning_k
        Band half-widths in units of σ₁/√n (see :class:`ChunkStats`), ``0 < warning_k <= k``.
    min_chunks
        Fewest reference chunks a key needs for a learned threshold (at least 2).

    Returns
    -------
    Report
        A report with the same metadata. Each result with a value, not skipped, whose key has
        statistics is re-decided on its bad side only (:func:`result_direction`): ``alert``
        beyond the ``k`` limit, ``warning`` beyond the ``warning_k`` limit, else ``ok``;
        ``threshold``/``warning_threshold`` become those limits and ``details`` gain
        ``threshold_source="reference_chunks"``, ``band_mean``, ``band_lower``,
        ``band_upper`` (the ``k`` band), ``n_reference_chunks``, ``fixed_status`` and
        ``fixed_threshold``. A key with fewer than ``min_chunks`` chunks becomes ``skipped``.
        Results whose key has no statistics are kept as they are (fixed thresholds).

    Raises
    ------
    InvalidParameterError
        If ``k``, ``warning_k`` or ``min_chunks`` is out of range.
    """
    owner = "apply_learned_thresholds"
    k, warning_k, min_chunks = _check_band(owner, k, warning_k, min_chunks)
    if not isinstance(stats, ChunkStats):
        raise InvalidParameterError(
            f"The 'stats' parameter of {owner} must be a ChunkStats. "
            f"Got {type(stats).__name__} instead."
        )
    checks = [_learn(r, report, stats, k, warning_k, min_chunks) for r in report.checks]
    return Report(checks, metadata=report.metadata)


def _learn(
    result: CheckResult, report: Report, stats: ChunkStats, k: float, wk: float, min_chunks: int
) -> CheckResult:
    held = stats.series.get(_key(result))
    if result.status == "skipped" or result.value is None or held is None:
        return result
    m = len(held.values)
    details = {
        **result.details,
        "threshold_source": "reference_chunks",
        "n_reference_chunks": m,
        "fixed_status": result.status,
        "fixed_threshold": result.threshold,
    }
    n = _rows_used(result, report)
    why = None
    if m < min_chunks:
        why = f"only {m} reference chunks (min_chunks={min_chunks}) to learn a threshold from"
    elif n < 1:
        why = "the result does not say how many rows it used, so no learned threshold scales to it"
    if why is not None:
        return replace(
            result,
            status="skipped",
            threshold=None,
            warning_threshold=None,
            reason=why,
            details=details,
        )
    mu, lower, upper = held.band(n, k)
    _, w_lower, w_upper = held.band(n, wk)
    v = result.value
    if result_direction(result) == "upper":
        limit, w_limit, sign, bad, good = upper, w_upper, "+", ">", "<="
        status: Status = "alert" if v > upper else "warning" if v > w_upper else "ok"
    else:
        limit, w_limit, sign, bad, good = lower, w_lower, "-", "<", ">="
        status = "alert" if v < lower else "warning" if v < w_lower else "ok"
    tail = f"at n={n} over {m} reference chunks)"
    alpha = result.details.get("alpha")
    credible = result.p_value is None or not isinstance(alpha, float) or result.p_value < alpha
    if status == "alert" and not credible:
        # Beyond the learned limit, but the check's own test against the reference says this
        # is within sampling error (e.g. one missing value where the reference had none).
        status = "warning"
        reason = (
            f"{_fmt(v)} {bad} learned limit {_fmt(limit)} but not significant "
            f"(p={result.p_value:.3g} >= {alpha:g}; mean {_fmt(mu)} {sign} {k:g}"
        )
    elif status == "alert":
        reason = f"{_fmt(v)} {bad} learned limit {_fmt(limit)} (mean {_fmt(mu)} {sign} {k:g}"
    else:
        op = bad if status == "warning" else good
        reason = (
            f"{_fmt(v)} {op} learned warning limit {_fmt(w_limit)} (mean {_fmt(mu)} {sign} {wk:g}"
        )
    details.update(band_mean=mu, band_lower=lower, band_upper=upper)
    return replace(
        result,
        status=status,
        threshold=limit,
        warning_threshold=w_limit,
        reason=f"{reason} x spread {tail}",
        details=details,
    )


def apply_consecutive(reports: Sequence[Report], n: int) -> list[Report]:
    """Keep an alert only when it is the ``n``-th (or later) alert in a row.

    Causal, as a live monitor applies it: an ``alert`` of a ``(check, column, segment)`` in
    chunk ``i`` stays an alert only if the same key alerted in each of the ``n - 1`` chunks
    before it; otherwise it becomes a ``warning`` and its reason gains
    ``"; alert j of n consecutive needed"``. Streaks count the alerts as given (before this
    rule); a chunk where the key did not alert (or did not run) ends its streak. Every other
    field, and every other result, is kept. ``n = 1`` changes nothing.

    Raises
    ------
    InvalidParameterError
        If ``n`` is not an integer >= 1 or an item of ``reports`` is not a Report.

    Examples
    --------
    >>> from watchkeeper.results import CheckResult
    >>> spike = Report([CheckResult("drift.wasserstein", "age", 0.4, status="alert")])
    >>> calm = Report([CheckResult("drift.wasserstein", "age", 0.01)])
    >>> [r.status for r in apply_consecutive([calm, spike, spike, calm, spike], 2)]
    ['ok', 'warning', 'alert', 'ok', 'warning']
    """
    n = check_int("apply_consecutive", "n", n, low=1)
    for i, report in enumerate(reports):
        if not isinstance(report, Report):
            raise InvalidParameterError(
                "The 'reports' parameter of apply_consecutive must hold Report items. "
                f"Got {type(report).__name__} at index {i} instead."
            )
    if n == 1:
        return list(reports)
    streaks: dict[StatKey, int] = {}
    out = []
    for report in reports:
        alerting = {_key(r) for r in report.checks if r.status == "alert"}
        streaks = {key: streaks.get(key, 0) + 1 for key in alerting}
        checks = [
            r
            if r.status != "alert" or streaks[_key(r)] >= n
            else replace(
                r,
                status="warning",
                reason="; ".join(
                    p
                    for p in (r.reason, f"alert {streaks[_key(r)]} of {n} consecutive needed")
                    if p
                ),
            )
            for r in report.checks
        ]
        out.append(Report(checks, metadata=report.metadata))
    return out
