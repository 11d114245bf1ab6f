"""Trainers for the subprocess tests: each is called as ``function(data, context)``.

scikit-learn is imported only by the trainers that fit, so the others start fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

FEATURES = ["x1", "x2", "x3"]


def fit_logistic(data: pd.DataFrame, context: Mapping[str, Any]) -> LogisticRegression:
    """Fit a logistic regression of ``context["target"]`` on :data:`FEATURES`."""
    from sklearn.linear_model import LogisticRegression

    print(f"training on {len(data)} rows")
    model = LogisticRegression(C=float(context.get("C", 1.0)))
    return model.fit(data[FEATURES], data[context["target"]])


def echo_context(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """Write what the trainer saw (context, rows, columns, cwd, sys.path) to
    ``context["out"]``, then return a fitted model."""
    seen = {
        "context": dict(context),
        "type": type(context).__name__,
        "rows": len(data),
        "columns": list(data.columns),
        "dtypes": [str(t) for t in data.dtypes],
        "cwd": os.getcwd(),
        "sys_path": sys.path[:5],
        "pid": os.getpid(),
    }
    Path(context["out"]).write_text(json.dumps(seen))
    return fit_logistic(data, context)


def fail(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """Raise a ValueError with a recognizable message."""
    raise ValueError(f"target column {context['target']!r} has only one class")


def sleep_forever(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """Start a grandchild, write both pids to ``context["pids"]``, then sleep 30 s."""
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    Path(context["pids"]).write_text(json.dumps([os.getpid(), grandchild.pid]))
    time.sleep(30)
    return None


def hard_exit(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """Leave the interpreter at once with exit code 3 (no exception, no error.json)."""
    print("about to vanish", flush=True)
    os._exit(3)


def not_a_model(data: pd.DataFrame, context: Mapping[str, Any]) -> Any:
    """Return a number instead of a model."""
    return 42


NOT_CALLABLE = 7
