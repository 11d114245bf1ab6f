"""The fitted reference of a model's data: :class:`Baseline`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.baseline._options import FitOptions
from watchkeeper.baseline._profiles import (
    CategoricalProfile,
    NumericProfile,
)
from watchkeeper.errors import EmptyInputError, InvalidParameterError, SchemaError

if TYPE_CHECKING:
    import os

    from watchkeeper._frame import Columns
    from watchkeeper.baseline._encode import FrameEncoder
    from watchkeeper.baseline._labels import LabelSpec
    from watchkeeper.baseline._manifold import DomainClassifierReference, ManifoldReference
    from watchkeeper.baseline._pca import PCAReconstructionModel
    from watchkeeper.monitor._chunks import ChunkBy
    from watchkeeper.monitor.chunked import ChunkedReport, ChunkStats, Thresholds
    from watchkeeper.monitor.report import Report
    from watchkeeper.performance import PerformanceReference
    from watchkeeper.quality._rows import DatasetReference
    from watchkeeper.schema import Schema

__all__ = ["CHECKED_ROLES", "Baseline", "Progress"]

Profile = NumericProfile | CategoricalProfile
Progress = Callable[[str], None]
"""Called with a short description as each phase of long work starts."""

CHECKED_ROLES = ("feature", "target", "prediction", "prediction_proba")
_ENCODE_CHUNK = 131_072


class Baseline:
    """The reference a model's production data is compared with, fitted once.

    Build one with :meth:`fit`; then :meth:`compare` any number of windows against it. Fitting
    does once what every comparison needs: sorted finite values, moments, quantiles and bin
    counts per numeric column; category tables per categorical column; the multivariate
    models (a PCA on a reference subsample by default).

    Examples
    --------
    >>> from watchkeeper.datasets import churn
    >>> baseline = Baseline.fit(churn(5_000, seed=1), target="churned")
    >>> report = baseline.compare(churn(5_000, seed=2, scenario="covariate_drift"))
    >>> [c.column for c in report.alerts if c.column][:2]  # doctest: +SKIP
    ['monthly_charges', 'tenure_months']
    """

    def __init__(
        self,
        *,
        schema: Schema,
        profiles: Mapping[str, Profile | Callable[[], Profile]],
        options: FitOptions,
        n_reference: int,
        encoder: FrameEncoder | None = None,
        pca: PCAReconstructionModel | None = None,
        domain: DomainClassifierReference | None = None,
        manifold: ManifoldReference | None = None,
        fitted_at: str | None = None,
        dataset_reference: DatasetReference | None = None,
        labels: LabelSpec | None = None,
        performance: PerformanceReference | None = None,
        chunk_stats: ChunkStats | None = None,
        segments: Mapping[str, Mapping[str, Baseline]] | None = None,
    ) -> None:
        self.schema = schema
        # A profile is fitted when first asked for (see ``fit(lazy=True)``); most baselines
        # are fully fitted at construction.
        self._profiles: dict[str, Profile | Callable[[], Profile]] = dict(profiles)
        self._reference_columns: Columns | None = None  # kept by a lazy fit
        self._multivariate_done = False
        self._dataset_lock = threading.Lock()
        self._transient = False
        # dict.setdefault is atomic under the GIL, so each pending column gets one lock.
        self._locks: dict[str, threading.Lock] = {}
        self._multivariate_lock = threading.Lock()
        self.options = options
        self.n_reference = n_reference
        self.encoder = encoder
        self.pca = pca
        self.domain = domain
        self.manifold = manifold
        self.fitted_at = fitted_at or datetime.now(UTC).isoformat()
        self._dataset_reference = dataset_reference
        self.labels = labels
        self.performance = performance
        self.chunk_stats = chunk_stats
        # segment column -> segment value (or "__other__") -> the baseline of those rows
        self.segments: dict[str, dict[str, Baseline]] = {
            k: dict(v) for k, v in (segments or {}).items()
        }

    @property
    def dataset_reference(self) -> DatasetReference | None:
        """Row-level reference for the quality checks (duplicates, dtypes); fitted on first use
        when the baseline is lazy."""
        if self._dataset_reference is None and self._reference_columns is not None:
            with self._dataset_lock:
                cols = self._reference_columns
                if self._dataset_reference is None and cols is not None:
                    from watchkeeper.quality._rows import DatasetReference

                    self._dataset_reference = DatasetReference.fit(cols, self.column_names)
        return self._dataset_reference

    @property
    def column_names(self) -> list[str]:
        """The profiled columns, in schema order."""
        return list(self._profiles)

    def profile(self, name: str) -> Profile:
        """The fitted profile of one column (fitting it now if it is still pending).

        A transient baseline (``fit(transient=True)``) hands each pending profile out once
        and does not keep it.
        """
        prof = self._profiles[name]
        if not callable(prof):
            return prof
        if self._transient:
            return prof()
        with self._locks.setdefault(name, threading.Lock()):
            # Another thread may have fitted it while this one waited for the lock.
            prof = self._profiles[name]
            if callable(prof):
                prof = prof()
                self._profiles[name] = prof
            return prof

    @property
    def profiles(self) -> dict[str, Profile]:
        """Every column's fitted profile."""
        return {name: self.profile(name) for name in self._profiles}

    def ensure_multivariate(self) -> None:
        """Fit the multivariate models now if a lazy fit left them pending (thread-safe)."""
        if self._reference_columns is None or self._multivariate_done:
            return
        with self._multivariate_lock:
            if self._reference_columns is not None and not self._multivariate_done:
                self._fit_multivariate(self._reference_columns)
                self._multivariate_done = True

    def __repr__(self) -> str:
        return (
            f"<Baseline columns={len(self._profiles)} rows={self.n_reference} "
            f"multivariate={list(self.options.multivariate)}>"
        )

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        reference: Any,
        schema: Schema | None = None,
        *,
        target: str | None = None,
        prediction: str | None = None,
        prediction_proba: str | Sequence[str] | None = None,
        progress: Progress | None = None,
        n_jobs: int | None = None,
        lazy: bool = False,
        transient: bool = False,
        validation: Any = None,
        task: str | None = None,
        pos_label: str | None = None,
        segments: Sequence[str] | str | None = None,
        performance: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Baseline:
        """Fit the baseline on reference (training or validation) data.

        Parameters
        ----------
        reference
            pandas DataFrame, pyarrow Table, polars DataFrame or mapping of columns.
        schema
            The columns' kinds and roles; inferred from ``reference`` when None (then
            ``target``, ``prediction`` and ``prediction_proba`` name those roles).
        progress
            Called with a description as each phase starts (the CLI draws a progress bar).
        n_jobs
            Threads for per-column work (default: one per core).
        lazy
            Defer each column's profile (and the multivariate models) until first use, so a
            one-off comparison can fit and compare each column in the same thread task
            (what ``watchkeeper.compare`` does). ``save`` fits whatever is pending.
        transient
            With ``lazy``: for a single comparison. Each column's profile is fitted when asked
            for and not kept, so the sorted reference values of only the columns being
            compared are in memory at once (the reference data itself stays referenced).
            Comparing again or saving fits the profiles again.
        validation
            Labelled validation data for the performance baseline: a frame with the target,
            prediction and score columns, or a tuple ``(y_true, y_pred)`` or
            ``(y_true, y_pred, y_score)``. Without it the reference's own (target, prediction)
            metrics are the baseline.
        task
            ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the target when
            None (see :mod:`watchkeeper.baseline._labels`).
        pos_label
            The positive class of a binary target (the one a score is the probability of),
            as its string form; needed unless the labels are 0/1, False/True, no/yes.
        segments
            Column(s) to fit per-segment baselines on: one per value with at least
            ``segment_min_rows`` reference rows, the rarer values pooled as ``"__other__"``;
            ``compare`` then runs on the whole window and on each segment.
        performance
            :class:`~watchkeeper.performance.PerformanceOptions` fields for the baseline
            metrics (e.g. the decision ``threshold``).
        **options
            :class:`~watchkeeper.baseline._options.FitOptions` fields: ``bins``, ``binning``,
            ``multivariate``, ``pca_max_rows``, ``pca_n_components``, ``domain_max_rows``,
            ``manifold_max_rows``, ``reference_chunks`` (chunks of the reference whose check
            values give ``compare_chunks`` its learned thresholds; 0 for none),
            ``segment_min_rows``, ``seed``.

        Raises
        ------
        EmptyInputError
            The reference has no rows or no column that can be checked.
        InvalidParameterError, UnknownMethodError
            An option is out of range or unknown.
        """
        from watchkeeper._convert import to_columns
        from watchkeeper.baseline._fitting import fit_profiles, profile_task, resolve_schema

        unknown = set(options) - set(FitOptions.field_names())
        if unknown:
            raise InvalidParameterError(
                f"Unknown option(s) {sorted(unknown)} for Baseline.fit; valid options are "
                f"{', '.join(FitOptions.field_names())}."
            )
        opts = FitOptions(**options)
        if lazy and segments:
            raise InvalidParameterError(
                "Baseline.fit(lazy=True) fits no segment baselines; leave out lazy to use segments."
            )
        schema = resolve_schema(
            reference,
            schema,
            target=target,
            prediction=prediction,
            prediction_proba=prediction_proba,
        )
        names = [
            c.name
            for c in schema
            if c.role in CHECKED_ROLES and (c.kind == "numeric" or c.is_categorical)
        ]
        if progress:
            progress("preparing the reference columns")
        cols = to_columns(reference, schema, names, what="reference")
        if not names:
            raise EmptyInputError(
                "The reference has no numeric or categorical column to compare "
                f"(schema: {schema!r})."
            )
        from watchkeeper.baseline._fitting import fit_labels

        spec, perf = fit_labels(
            schema,
            cols,
            validation=validation,
            task=task,
            performance=performance,
            pos_label=pos_label,
        )
        if lazy:
            pending = {n: profile_task(cols, schema, n, opts) for n in names}
            baseline = cls(
                schema=schema,
                profiles=pending,
                options=opts,
                n_reference=cols.n_rows,
                labels=spec,
                performance=perf,
            )
            baseline._transient = transient
            baseline._reference_columns = cols
            baseline._multivariate_done = not opts.multivariate
            return baseline
        if progress:
            progress("profiling reference columns")
        profiles = fit_profiles(cols, schema, names, opts, n_jobs)
        from watchkeeper.quality._rows import DatasetReference

        baseline = cls(
            schema=schema,
            profiles=profiles,
            options=opts,
            n_reference=cols.n_rows,
            dataset_reference=DatasetReference.fit(cols, names),
            labels=spec,
            performance=perf,
        )
        if opts.multivariate:
            if progress:
                progress("fitting multivariate models")
            baseline._fit_multivariate(cols)
        if segments:
            from watchkeeper.baseline._fitting import fit_segments

            if progress:
                progress("fitting segment baselines")
            baseline.segments = fit_segments(
                reference,
                schema,
                segments,
                opts,
                validation=validation,
                task=task,
                performance=performance,
                pos_label=pos_label,
            )
        if opts.reference_chunks:
            from watchkeeper.baseline._fitting import fit_chunk_stats

            if progress:
                progress(f"checking {opts.reference_chunks} reference chunks")
            baseline.chunk_stats = fit_chunk_stats(
                baseline, reference, cols.n_rows, validated=validation is not None
            )
        return baseline

    def _fit_multivariate(self, cols: Columns) -> None:
        from watchkeeper.baseline._fitting import fit_multivariate

        fit_multivariate(self, cols)

    # ------------------------------------------------------------------ comparing
    def compare(
        self,
        current: Any,
        *,
        checks: Sequence[str] | None = None,
        progress: Progress | None = None,
        quality: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Report:
        """Compare a window of production data with this baseline.

        Parameters
        ----------
        current
            The window (same kinds of input as :meth:`fit`).
        checks
            Check families or names to run (default: all): ``"drift"``, ``"quality"``,
            ``"performance"``, or single checks such as ``"drift.columns"``,
            ``"drift.dataset"``, ``"drift.prediction"``, ``"drift.target"``,
            ``"drift.pca_reconstruction"``, ``"quality.missing_rate"``,
            ``"quality.duplicate_rows"``, ``"performance.accuracy"``...
        quality
            :class:`~watchkeeper.quality.QualityOptions` fields (``margins``, ``overrides``,
            ``bounds``, ``outlier_rule``...).
        performance
            :class:`~watchkeeper.performance.PerformanceOptions` fields (``threshold``,
            ``floors``, ``max_drop``...).
        **options
            :class:`~watchkeeper.drift._options.DriftOptions` fields (``alpha``,
            ``correction``, ``delta_numeric``, ``delta_categorical``, ``methods``, ...).

        A baseline fitted with ``segments`` also compares each segment of the window with
        its own baseline; those results carry ``segment="<column>=<value>"``.
        """
        # The monitoring layer runs the checks; the baseline only holds what they need.
        from watchkeeper.monitor._run import run_checks

        report = run_checks(
            self,
            current,
            checks=checks,
            progress=progress,
            quality=quality,
            performance=performance,
            **options,
        )
        if not self.segments:
            return report
        from watchkeeper.monitor._segments import compare_segments

        return compare_segments(
            self,
            current,
            report,
            checks=checks,
            quality=quality,
            performance=performance,
            **options,
        )

    def compare_chunks(
        self,
        data: Any,
        *,
        by: ChunkBy = "size",
        size: int | None = None,
        number: int | None = None,
        period: str | None = None,
        timestamp: str | None = None,
        thresholds: Thresholds = "auto",
        k: float = 3.0,
        warning_k: float = 2.0,
        min_chunks: int = 5,
        consecutive: int = 1,
        checks: Sequence[str] | None = None,
        progress: Progress | None = None,
        quality: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> ChunkedReport:
        """Split ``data`` into chunks and compare each with this baseline: a time series.

        Parameters
        ----------
        data
            Production data with a timestamp column (or in row order).
        by
            ``"size"`` (``size`` rows per chunk), ``"number"`` (``number`` chunks) or
            ``"period"`` (calendar periods such as ``"D"``, ``"W"``, ``"MS"`` of the
            timestamp column).
        timestamp
            The time column (default: the schema's ``timestamp`` column); chunks follow
            time order when there is one.
        thresholds
            ``"reference"``: each check's limit is learned from the baseline's reference
            chunks (mean ± ``k`` spreads, the spread scaled to the chunk's size); ``"fixed"``:
            each check's own rule; ``"auto"``: reference when the baseline has chunk
            statistics (``reference_chunks`` at fit), else fixed.
        consecutive
            An alert stands only when the same check alerted in the ``consecutive - 1``
            chunks before too; otherwise it is a warning (1 turns the rule off).
        checks, quality, performance, **options
            As for :meth:`compare` (multivariate checks included).
        """
        from watchkeeper._convert import column_names, datetime_values
        from watchkeeper.monitor._run import _n_rows
        from watchkeeper.monitor.chunked import compare_chunks

        ts_name = timestamp or self.schema.role_column("timestamp")
        times = None
        if ts_name is not None:
            if ts_name not in column_names(data, what="current"):
                if timestamp is not None or by == "period":
                    raise SchemaError(f"The data has no timestamp column {ts_name!r}.")
            else:
                times = datetime_values(data, ts_name)

        def run(chunk: Any) -> Report:
            return self.compare(
                chunk, checks=checks, quality=quality, performance=performance, **options
            )

        return compare_chunks(
            data,
            run=run,
            n_rows=_n_rows(data),
            timestamps=times,
            by=by,
            period=period,
            size=size,
            number=number,
            thresholds=thresholds,
            stats=self.chunk_stats,
            k=k,
            warning_k=warning_k,
            min_chunks=min_chunks,
            consecutive=consecutive,
            progress=progress,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the baseline to one ``.npz`` file (JSON metadata + arrays, no pickle).

        The file is written to a temporary name and renamed, so a failed save never leaves a
        half-written baseline behind. Returns the path written.
        """
        from watchkeeper.baseline._store import save_baseline

        return save_baseline(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        """Read a baseline written by :meth:`save`.

        A loaded baseline compares exactly as the saved one did; the one exception is the
        opt-in ``manifold`` check, whose Isomap is refitted from the stored rows on load and
        agrees to about 1e-12.

        Raises
        ------
        SerializationError
            The file is missing, not a baseline, or of an unsupported format version.
        """
        from watchkeeper.baseline._store import load_baseline

        return load_baseline(Path(path))
