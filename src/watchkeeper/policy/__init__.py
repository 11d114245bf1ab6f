"""The update policy: a model's monitor-run history and ``policy:`` in, a decision out.

:func:`evaluate` is pure (no clock, no database): the caller hands it the ``policy:``
settings (:class:`watchkeeper.config.PolicyConfig`), the model's runs as
:class:`RunRecord` (oldest first), earlier actions as :class:`ActionRecord`, the time
``now`` and when the serving version was trained. It returns a :class:`Decision`:
``none``, ``notify``, ``retrain`` or ``rollback``, with one reason per fired trigger, every
enabled trigger's :class:`TriggerOutcome`, and why a retrain or rollback was held back.

Rules
-----
Only whole-window check results count (segment results are left out), and ``skipped``
checks never breach anything.

performance
    A ``performance.<metric>`` check of the latest run breaches when its status is
    ``alert`` (its band and floors come from the baseline and ``monitor.performance``).
    Explicit rules replace the status for the metrics they apply to: ``floor: {metric:
    value}`` breaches when the value is below the floor (above it for the error metrics of
    :data:`watchkeeper.performance.LOWER_IS_BETTER`, where the floor is a ceiling);
    ``max_drop`` breaches when the value is worse than the check's ``reference_value`` by
    more than ``max_drop`` (direction-aware; a check without a reference value keeps its
    status). ``performance.calibration`` is judged by its status only. ``metrics``
    restricts the checks watched (``roc_auc`` or ``performance.roc_auc``); a metric given a
    floor is always watched. A run with fewer than ``min_labeled_rows`` labelled rows
    (``n_labeled``) is not evaluated: not breached, and the reason says so.
drift
    Feature columns are the columns of ``drift.*`` checks other than ``drift.prediction``
    and ``drift.target``. Breaches when at least one of the checked (not skipped) feature
    columns alerts and the alerting share is at least ``share``; or when a column named
    in ``features`` alerts; or, with ``multivariate``, when ``drift.dataset``,
    ``drift.pca_reconstruction``, ``drift.domain_classifier`` or ``drift.manifold``
    alerts. The details list the drifted features.
data_quality
    Breaches when a ``quality.*`` check (of ``checks``, when given) alerts; the details
    list the failing (check, column) pairs.
concept_drift
    Breaches when a detector (of ``detectors``, when given) reports ``drift: true`` in the
    latest run's ``detectors``.
schedule
    Due, and fired (no consecutive rule), when ``now - last_trained >= every``, or when
    the first ``cron`` time (UTC) strictly after ``last_trained`` is at or before
    ``now``. Without ``last_trained`` it is never due.
consecutive
    Every other trigger fires only when its condition held in each of the last
    ``consecutive`` runs of the latest run's version: the runs right before the latest
    with the same version (a run of another version ends the streak, and so does a run in
    which the trigger was not evaluated). With fewer runs it does not fire, and its reasons
    say "breached 1 of 2 runs needed".
combine
    ``any``: the requested action is the most severe of the fired triggers' actions
    (``rollback`` > ``retrain`` > ``notify``), ``none`` when none fired. ``all``: only when
    every enabled trigger fired (the schedule too, when configured), then the most severe;
    otherwise ``none``.
cooldown and max_actions
    A requested ``retrain`` or ``rollback`` becomes ``notify`` (``suppressed`` says why,
    ``requested`` keeps the original) while a retrain or rollback happened less than
    ``cooldown`` before ``now`` (at exactly ``cooldown`` it has ended), or when
    ``max_actions`` retrains and rollbacks already happened in ``(now - per, now]``.
    ``notify`` actions count for neither; actions after ``now`` are ignored (a replay at an
    earlier time sees only the history before it).

With no run at all the decision is ``none``, "no monitor run yet".

Examples
--------
>>> from datetime import UTC, datetime
>>> from watchkeeper.config import PolicyConfig
>>> from watchkeeper.results import CheckResult
>>> now = datetime(2026, 3, 1, tzinfo=UTC)
>>> drifted = [CheckResult("drift.wasserstein", c, 0.3, status="alert") for c in "ab"]
>>> calm = [CheckResult("drift.wasserstein", c, 0.01) for c in "cde"]
>>> run = RunRecord(now, version=1, checks=(*drifted, *calm))
>>> decision = evaluate(PolicyConfig(), [run], now=now)
>>> decision.action
'notify'
>>> print(decision.reasons[0])
drift asks for notify: 2 of 5 feature columns drifted (40%), at least the share 30%: a, b
"""

from __future__ import annotations

from watchkeeper.policy._evaluate import evaluate
from watchkeeper.policy._records import ActionRecord, Decision, RunRecord, TriggerOutcome

__all__ = ["ActionRecord", "Decision", "RunRecord", "TriggerOutcome", "evaluate"]
