"""The trainer subprocess: ``python -m watchkeeper.ops._trainer_main WORKDIR``.

Started by :func:`watchkeeper.ops._trainer.run_trainer`, never imported by the caller's
process. It reads ``WORKDIR/job.json`` (the entry point and the folders to put first on
``sys.path``), ``WORKDIR/data.parquet`` and ``WORKDIR/context.json``, calls the user's
``function(data, context)`` and writes what it returned with :func:`joblib.dump` to
``WORKDIR/model.joblib`` plus ``WORKDIR/result.json`` (``ok``, ``seconds``, ``model_class``),
then exits 0. When anything fails it writes ``WORKDIR/error.json`` (``phase``: ``import``,
``train`` or ``save``; the exception's ``type`` and ``message``; the ``traceback``'s tail) and
exits 1.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["load_entry_point", "main"]

_TRACEBACK_CHARS = 4_000


def load_entry_point(entry_point: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (the function may be a dotted attribute path).

    Raises
    ------
    ImportError
        The module cannot be imported, has no such attribute, or it is not callable.
    """
    module_name, sep, attribute = entry_point.partition(":")
    if not sep or not module_name or not attribute:
        raise ImportError(f"expected an entry point 'module.path:function', got {entry_point!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ImportError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise ImportError(f"{entry_point!r} is a {type(target).__name__}, not a function")
    return target  # type: ignore[no-any-return]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(partial, path)


def _fail(workdir: Path, phase: str, exc: BaseException) -> int:
    text = "".join(traceback.format_exception(exc))
    _write_json(
        workdir / "error.json",
        {
            "phase": phase,
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": text[-_TRACEBACK_CHARS:],
        },
    )
    traceback.print_exception(exc)
    return 1


def main(argv: Sequence[str]) -> int:
    """Run the job in the folder ``argv[0]``; returns the exit code."""
    workdir = Path(argv[0])
    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    for entry in reversed(job["python_path"]):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    try:
        function = load_entry_point(job["entry_point"])
    except Exception as exc:  # the user's module: its import can raise anything
        return _fail(workdir, "import", exc)
    try:
        import pandas as pd

        data = pd.read_parquet(workdir / "data.parquet")
        context = json.loads((workdir / "context.json").read_text(encoding="utf-8"))
        started = time.perf_counter()
        model = function(data, context)
        seconds = time.perf_counter() - started
    except (Exception, SystemExit) as exc:  # the user's trainer: anything can go wrong
        return _fail(workdir, "train", exc)
    try:
        import joblib  # type: ignore[import-untyped]  # joblib ships no type hints

        joblib.dump(model, workdir / "model.joblib")
    except Exception as exc:  # e.g. a model holding a lock or an open file
        return _fail(workdir, "save", exc)
    kind = type(model)
    _write_json(
        workdir / "result.json",
        {"ok": True, "seconds": seconds, "model_class": f"{kind.__module__}.{kind.__qualname__}"},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
