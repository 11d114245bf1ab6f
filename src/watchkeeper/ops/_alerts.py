"""Alerts: what a monitor run says is wrong, which of it is worth saying again, and delivery.

Three steps, the first two pure:

1. :func:`build_alerts` turns a run's check results and detector outcomes into candidate
   :class:`Alert` objects (drift alerts carry the drifted features ranked by effect times
   importance, see :mod:`watchkeeper.ops._importance`);
2. :func:`select_alerts` drops repeats: per (model, check, column) an alert is sent when it
   is new, when it escalated (warning to alert), or when the ``cooldown`` has passed since it
   was last sent, and a "recovered" alert is sent once when it returns to ``ok``; the caller
   stores the new states (table ``alert_states``);
3. :class:`Notifier` delivers the selected alerts to the configured channels: the
   ``watchkeeper.alerts`` logger, or a webhook (watchkeeper's JSON document or a Slack
   message) with retries. Delivery problems are logged and reported, never raised.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import InvalidParameterError
from watchkeeper.ops._importance import rank_drifted_features
from watchkeeper.results import CheckResult, _json_safe

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import httpx

    from watchkeeper.config import AlertsConfig
    from watchkeeper.config._ops import ChannelConfig

__all__ = [
    "TOKEN_ENV",
    "Alert",
    "AlertState",
    "ChannelDelivery",
    "DeliveryReport",
    "Notifier",
    "build_alerts",
    "select_alerts",
]

TOKEN_ENV = "WATCHKEEPER_ALERTS_WEBHOOK_TOKEN"
LOGGER_NAME = "watchkeeper.alerts"
_SEVERITY = {"skipped": 0, "ok": 1, "warning": 2, "alert": 3}
_ALERT_STATUSES = ("warning", "alert", "ok")
_SLACK_LINES = 50  # bullets in one Slack message; the rest are counted
_MAX_WAIT = 60.0  # seconds: the longest a Retry-After header may hold a retry back


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing to tell someone about a model.

    Parameters
    ----------
    model, version
        The model and version it is about.
    check
        The check (``drift.wasserstein``, ``performance.roc_auc``, ``concept_drift.ddm``,
        ``policy.decision``, ``guard.rollback``...).
    column
        The column checked, or None.
    status
        ``alert``, ``warning``, or ``ok`` (recovered).
    message
        One human line.
    at
        When (timezone-aware).
    details
        JSON-safe mapping (numpy values and non-finite floats are converted).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> a = Alert("churn", 3, "drift.wasserstein", "age", "alert", "churn v3: age drifted",
    ...           datetime(2025, 1, 2, tzinfo=timezone.utc), {"value": 0.3})
    >>> a.key, a.to_dict()["at"]
    (('churn', 'drift.wasserstein', 'age'), '2025-01-02T00:00:00+00:00')
    """

    model: str
    version: int
    check: str
    column: str | None
    status: str
    message: str
    at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in _ALERT_STATUSES:
            raise InvalidParameterError(
                f"The 'status' of an Alert must be one of {', '.join(_ALERT_STATUSES)}. "
                f"Got {self.status!r} instead."
            )
        if self.at.tzinfo is None:
            raise InvalidParameterError(
                f"The 'at' of an Alert must be timezone-aware. Got {self.at.isoformat()}."
            )
        object.__setattr__(self, "details", _json_safe(dict(self.details)))

    @property
    def key(self) -> tuple[str, str, str]:
        """``(model, check, column or "")``: what de-duplication and cool-down go by."""
        return (self.model, self.check, self.column or "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field (``at`` in ISO 8601)."""
        return {
            "model": self.model,
            "version": self.version,
            "check": self.check,
            "column": self.column,
            "status": self.status,
            "message": self.message,
            "at": self.at.isoformat(),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class AlertState:
    """The last status alerted on for a key, and when it was sent (None: never)."""

    status: str
    sent_at: datetime | None


# ---------------------------------------------------------------------- selection
def select_alerts(
    candidates: Sequence[Alert],
    previous: Mapping[tuple[str, str, str], AlertState],
    *,
    cooldown: timedelta,
    min_status: str,
    now: datetime,
) -> tuple[list[Alert], dict[tuple[str, str, str], AlertState]]:
    """Choose which candidates to send, and the new state of every key seen.

    Per key (:attr:`Alert.key`), a candidate at or above ``min_status`` is sent when there
    is no previous state, when the previous status was lower (an escalation), or when it was
    last sent ``cooldown`` or longer ago; otherwise it is suppressed and the state is kept.
    An ``ok`` candidate whose key was last at or above ``min_status`` is sent once (a
    recovery). Other candidates are not sent; a lower status does not replace one that
    alerted, so a flapping check does not re-alert within the cool-down.

    Returns
    -------
    tuple
        The alerts to send (in candidate order) and the new states, for the caller to store.

    Raises
    ------
    InvalidParameterError
        If ``min_status`` is not ``warning`` or ``alert``, or ``cooldown`` is negative.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> a = Alert("churn", 1, "drift.wasserstein", "age", "alert", "age drifted", t0)
    >>> sent, states = select_alerts([a], {}, cooldown=timedelta(days=1),
    ...                               min_status="alert", now=t0)
    >>> len(sent), states[a.key].status
    (1, 'alert')
    >>> later = t0 + timedelta(hours=6)
    >>> again, _ = select_alerts([a], states, cooldown=timedelta(days=1),
    ...                          min_status="alert", now=later)
    >>> again
    []
    """
    if min_status not in ("warning", "alert"):
        raise InvalidParameterError(
            f"The 'min_status' parameter of select_alerts must be 'warning' or 'alert'. "
            f"Got {min_status!r} instead."
        )
    if cooldown < timedelta(0):
        raise InvalidParameterError(
            f"The 'cooldown' parameter of select_alerts must not be negative. Got {cooldown}."
        )
    level = _SEVERITY[min_status]
    send: list[Alert] = []
    states: dict[tuple[str, str, str], AlertState] = {}
    for alert in candidates:
        key = alert.key
        prev = states.get(key, previous.get(key))
        severity = _SEVERITY[alert.status]
        if prev is None:
            if severity >= level:
                send.append(alert)
            states[key] = AlertState(alert.status, now if severity >= level else None)
            continue
        before = _SEVERITY.get(prev.status, 0)
        if severity >= level:
            due = prev.sent_at is None or now - prev.sent_at >= cooldown
            if before < severity or due:
                send.append(alert)
                states[key] = AlertState(alert.status, now)
            else:
                states[key] = prev  # a repeat within the cool-down
        elif before >= level:  # it had alerted: only ok counts as recovered
            if alert.status == "ok":
                send.append(alert)
                states[key] = AlertState("ok", now)
            else:
                states[key] = prev
        else:
            states[key] = AlertState(alert.status, prev.sent_at)
    return send, states


# ---------------------------------------------------------------------- building
def build_alerts(
    model: str,
    version: int,
    checks: Sequence[CheckResult],
    detectors: Mapping[str, Mapping[str, Any]],
    at: datetime,
    importance: Mapping[str, float] | None,
    top: int,
) -> list[Alert]:
    """Turn a run's check results and detector outcomes into candidate alerts.

    Every whole-window check that ran (``ok``, ``warning`` or ``alert``; segments and
    ``skipped`` checks are left out) gives a candidate, so that :func:`select_alerts` can see
    recoveries as well as problems. ``detectors`` (``{"ddm": {"drift": True, ...}}``) adds a
    ``concept_drift.<name>`` candidate for each detector that saw data and has no check
    result of that name already (keys starting with ``_`` are not detectors). Drift
    warnings and alerts carry ``top_features``: the run's drifted features ranked by
    :func:`~watchkeeper.ops._importance.rank_drifted_features`; a feature's own alert also has
    its ``rank``, ``importance`` and ``score``. Alerts come first, then warnings, then ok.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> checks = [CheckResult("drift.wasserstein", "age", 0.3, threshold=0.1,
    ...                       status="alert", reason="normalized Wasserstein 0.3 >= 0.1")]
    >>> alerts = build_alerts("churn", 2, checks, {"ddm": {"drift": False, "n": 40}},
    ...                       datetime(2025, 1, 2, tzinfo=timezone.utc), None, 5)
    >>> [(a.check, a.status) for a in alerts]
    [('drift.wasserstein', 'alert'), ('concept_drift.ddm', 'ok')]
    >>> alerts[0].message
    'churn v2: drift.wasserstein on age is alert: normalized Wasserstein 0.3 >= 0.1'
    """
    ranked = rank_drifted_features(checks, importance, top)
    rank_of = {r["feature"]: i for i, r in enumerate(ranked, start=1)}
    names = [r["feature"] for r in ranked]
    alerts: list[Alert] = []
    seen = {c.check for c in checks}
    for c in checks:
        if c.segment is not None or c.status == "skipped":
            continue
        details: dict[str, Any] = {
            "value": c.value,
            "reference_value": c.reference_value,
            "p_value": c.p_value,
            "threshold": c.threshold,
            "warning_threshold": c.warning_threshold,
            "n": c.n,
            "reason": c.reason,
        }
        extra = ""
        if c.family == "drift" and c.status != "ok":
            details["top_features"] = ranked
            if c.column in rank_of:
                item = ranked[rank_of[c.column] - 1]
                details.update(
                    rank=rank_of[c.column], importance=item["importance"], score=item["score"]
                )
            elif c.column is None and names:
                extra = f" (top drifted features: {', '.join(names)})"
        alerts.append(
            Alert(
                model,
                version,
                c.check,
                c.column,
                c.status,
                _message(model, version, c.check, c.column, c.status, c.reason) + extra,
                at,
                details,
            )
        )
    for name, outcome in detectors.items():
        check = f"concept_drift.{name}"
        if name.startswith("_") or check in seen or outcome.get("n") == 0:
            continue
        status = "alert" if outcome.get("drift") else "warning" if outcome.get("warning") else "ok"
        reason = "drift detected" if status == "alert" else f"{status} level"
        if outcome.get("error_rate") is not None:
            reason += f", error rate {float(outcome['error_rate']):.3f}"
        alerts.append(
            Alert(
                model,
                version,
                check,
                None,
                status,
                _message(model, version, check, None, status, f"{name} {reason}"),
                at,
                dict(outcome),
            )
        )
    alerts.sort(key=lambda a: -_SEVERITY[a.status])
    return alerts


def _message(
    model: str, version: int, check: str, column: str | None, status: str, reason: str
) -> str:
    where = f"{check} on {column}" if column else check
    state = "recovered (ok)" if status == "ok" else f"is {status}"
    line = f"{model} v{version}: {where} {state}"
    reason = " ".join(reason.split())
    return f"{line}: {reason}" if reason else line


# ---------------------------------------------------------------------- delivery
@dataclass(frozen=True, slots=True)
class ChannelDelivery:
    """How one channel's delivery went.

    ``target`` is a webhook's ``scheme://host[:port]`` only (a webhook's path often holds
    its secret, as Slack's do); ``attempts`` counts HTTP requests made (1 for the log).
    """

    channel: str
    target: str | None
    ok: bool
    attempts: int
    error: str | None = None
    status_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        return {
            "channel": self.channel,
            "target": self.target,
            "ok": self.ok,
            "attempts": self.attempts,
            "error": self.error,
            "status_code": self.status_code,
        }


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :meth:`Notifier.send` did: the number of alerts and each channel's outcome."""

    alerts: int
    channels: tuple[ChannelDelivery, ...] = ()

    @property
    def ok(self) -> bool:
        """Every channel delivered (True when there was nothing to send)."""
        return all(c.ok for c in self.channels)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ``alerts``, ``ok`` and ``channels``."""
        return {
            "alerts": self.alerts,
            "ok": self.ok,
            "channels": [c.to_dict() for c in self.channels],
        }


class Notifier:
    """Deliver alerts to the channels of an ``alerts:`` configuration.

    Parameters
    ----------
    config
        The ``alerts:`` section; its ``channels`` are used here.
    environ
        Where ``WATCHKEEPER_ALERTS_WEBHOOK_TOKEN`` is read from (sent to webhooks as
        ``Authorization: Bearer <token>``, over any ``Authorization`` header configured).
    sleep
        Waits between webhook retries (tests pass a function that does not wait).
    logger
        The log channel and delivery errors (default: the ``watchkeeper.alerts`` logger).
    client
        An ``httpx.Client`` to post with (default: a new one per :meth:`send`); not closed
        here.

    Notes
    -----
    A webhook gets one POST per :meth:`send` carrying all its alerts. Connection errors,
    timeouts, 429 and 5xx answers are retried ``retries`` times, waiting
    ``backoff_seconds * 2**attempt`` (or a longer ``Retry-After``, up to 60 s); other 4xx
    answers are not retried. httpx comes with ``pip install 'watchkeeper[server]'``.

    Examples
    --------
    >>> import logging
    >>> from datetime import datetime, timezone
    >>> from watchkeeper.config import AlertsConfig
    >>> alert = Alert("churn", 1, "performance.roc_auc", None, "alert",
    ...               "churn v1: performance.roc_auc is alert", datetime.now(timezone.utc))
    >>> report = Notifier(AlertsConfig(), logger=logging.getLogger("doctest")).send([alert])
    >>> report.ok, [(c.channel, c.attempts) for c in report.channels]
    (True, [('log', 1)])
    """

    def __init__(
        self,
        config: AlertsConfig,
        *,
        environ: Mapping[str, str] = os.environ,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.config = config
        self.environ = environ
        self.sleep = sleep
        self.logger = logger if logger is not None else logging.getLogger(LOGGER_NAME)
        self.client = client

    def send(self, alerts: Sequence[Alert]) -> DeliveryReport:
        """Deliver ``alerts`` to every channel; nothing is sent for an empty list."""
        batch = list(alerts)
        if not batch:
            return DeliveryReport(0)
        outcomes = []
        for channel in self.config.channels:
            if channel.type == "log":
                for alert in batch:
                    level = logging.WARNING if alert.status == "alert" else logging.INFO
                    self.logger.log(level, "[%s] %s", alert.status, alert.message)
                outcomes.append(ChannelDelivery("log", None, True, 1))
            else:
                outcomes.append(self._webhook(channel, batch))
        return DeliveryReport(len(batch), tuple(outcomes))

    def _webhook(self, channel: ChannelConfig, alerts: list[Alert]) -> ChannelDelivery:
        url = str(channel.url)
        target = _origin(url)
        try:
            import httpx
        except ImportError:
            return self._failed(
                target, 0, "the webhook channel needs httpx: pip install 'watchkeeper[server]'"
            )
        body = _slack_body(alerts) if channel.format == "slack" else _json_body(alerts)
        content = json.dumps(body, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json", **channel.headers}
        token = self.environ.get(TOKEN_ENV)
        if token:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"
        client = self.client if self.client is not None else httpx.Client()
        attempts, outcome = 0, _Attempt("not attempted")
        try:
            for attempt in range(channel.retries + 1):
                attempts += 1
                outcome = _post(client, url, content, headers, channel)
                if not outcome.error:
                    return ChannelDelivery("webhook", target, True, attempts, None, outcome.code)
                if not outcome.retry or attempt == channel.retries:
                    break
                self.sleep(max(channel.backoff_seconds * 2**attempt, outcome.wait))
        finally:
            if self.client is None:
                client.close()
        return self._failed(target, attempts, outcome.error, outcome.code)

    def _failed(
        self, target: str, attempts: int, error: str, code: int | None = None
    ) -> ChannelDelivery:
        self.logger.error(
            "alert webhook %s failed after %d attempt(s): %s", target, attempts, error
        )
        return ChannelDelivery("webhook", target, False, attempts, error, code)


@dataclass(frozen=True, slots=True)
class _Attempt:
    error: str  # "" when delivered
    retry: bool = False
    code: int | None = None
    wait: float = 0.0  # seconds a Retry-After header asks for


def _post(
    client: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    channel: ChannelConfig,
) -> _Attempt:
    """One POST, and whether a failure is worth retrying."""
    import httpx

    timeout = channel.timeout_seconds
    try:
        response = client.post(url, content=content, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        return _Attempt(f"timed out after {timeout:g} s ({type(exc).__name__})", retry=True)
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return _Attempt(f"{type(exc).__name__}: {exc}", retry=True)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # bad URL, header...
        return _Attempt(f"{type(exc).__name__}: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return _Attempt("", code=code)
    text = " ".join(response.text.split())[:200]
    error = f"HTTP {code}" + (f": {text}" if text else "")
    if code == 429 or code >= 500:
        wait = _retry_after(response.headers.get("Retry-After"))
        return _Attempt(error, retry=True, code=code, wait=wait)
    return _Attempt(error, code=code)


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:  # an HTTP date: the backoff decides
        return 0.0
    return min(max(seconds, 0.0), _MAX_WAIT) if seconds == seconds else 0.0


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


def _json_body(alerts: Sequence[Alert]) -> dict[str, Any]:
    return {"source": "watchkeeper", "alerts": [a.to_dict() for a in alerts]}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_body(alerts: Sequence[Alert]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a summary line, then one bullet per alert."""
    counts = {s: sum(a.status == s for a in alerts) for s in ("alert", "warning", "ok")}
    words = {
        "alert": ("alert", "alerts"),
        "warning": ("warning", "warnings"),
        "ok": ("recovered", "recovered"),
    }
    parts = [f"{n} {words[s][n != 1]}" for s, n in counts.items() if n]
    models = sorted({f"{a.model} v{a.version}" for a in alerts})
    about = f" for {models[0]}" if len(models) == 1 else f" for {len(models)} model versions"
    lines = [f"watchkeeper: {', '.join(parts)}{about}"]
    lines += [f"\u2022 {_slack_escape(a.message)}" for a in alerts[:_SLACK_LINES]]
    if len(alerts) > _SLACK_LINES:
        lines.append(f"\u2022 \u2026 and {len(alerts) - _SLACK_LINES} more")
    return {"text": "\n".join(lines)}
