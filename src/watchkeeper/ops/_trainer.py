"""Running the user's trainer (``retrain.trainer``) in a separate Python process.

The trainer is the user's code: it may crash the interpreter, leak memory, hang or start
processes of its own, so it never runs in the caller's process. :func:`run_trainer` writes
the training rows (Parquet) and the context (JSON) into a fresh temporary folder, starts
``python -m watchkeeper.ops._trainer_main FOLDER`` in a new session with the project folder
as working directory, waits at most ``timeout`` seconds (then kills the whole process group)
and loads the returned model back. The child's standard output and error go to a file in the
folder (a pipe could fill up and block it); its tail is returned and quoted in errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.errors import InvalidParameterError, TrainerError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

__all__ = ["TrainerRun", "run_trainer"]

_TAIL_BYTES = 2_048
_MAIN = "watchkeeper.ops._trainer_main"


@dataclass(frozen=True, slots=True)
class TrainerRun:
    """A finished trainer run.

    Attributes
    ----------
    model
        The fitted model the trainer returned (loaded back in this process).
    seconds
        Wall-clock time of the subprocess, start to exit.
    stdout_tail
        The last ~2 kB of the child's standard output and error.
    entry_point
        The ``"module:function"`` that was run.
    """

    model: Any
    seconds: float
    stdout_tail: str
    entry_point: str


def run_trainer(
    entry_point: str,
    data: pd.DataFrame,
    context: Mapping[str, Any],
    *,
    timeout: float,
    cwd: Path,
    python_path: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
) -> TrainerRun:
    """Call ``function(data, context)`` of ``entry_point`` in a subprocess and return its model.

    The child's ``sys.path`` starts with ``cwd`` and every ``python_path`` folder, and its
    working directory is ``cwd``. ``context`` reaches the trainer as a dict (after a JSON
    round trip). The returned object is pickled by the child with :func:`joblib.dump` and
    unpickled here with :func:`joblib.load`: unpickling runs code, which is acceptable only
    because the object is the product of the user's own trainer, configured by the project.

    Parameters
    ----------
    entry_point
        ``"package.module:function"``.
    data
        The training rows (written to Parquet, so column names must be strings).
    context
        JSON-safe facts for the trainer (target column, inputs, reason, ...).
    timeout
        Seconds before the child and every process it started are killed.
    cwd
        The child's working directory (the project folder).
    python_path
        Further folders put first on the child's import path.
    environ
        The child's environment (default: this process's).

    Returns
    -------
    TrainerRun

    Raises
    ------
    TrainerError
        The trainer could not be imported, raised, crashed, timed out, or returned something
        without a callable ``predict``.
    InvalidParameterError
        ``timeout`` is not positive or ``context`` is not JSON-serializable.
    """
    if not timeout > 0:
        raise InvalidParameterError(f"The trainer's timeout must be > 0 seconds. Got {timeout}.")
    try:
        context_text = json.dumps(dict(context))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"The trainer's context must be JSON-safe: {exc}") from exc
    search = [str(Path(p).resolve()) for p in (cwd, *python_path)]
    workdir = Path(tempfile.mkdtemp(prefix="watchkeeper-trainer-"))
    try:
        try:
            data.to_parquet(workdir / "data.parquet", engine="pyarrow")
        except Exception as exc:  # pyarrow's errors for unwritable frames vary
            raise TrainerError(
                f"The training data for trainer {entry_point!r} could not be written as "
                f"Parquet: {type(exc).__name__}: {exc}"
            ) from exc
        (workdir / "context.json").write_text(context_text, encoding="utf-8")
        job = {"entry_point": entry_point, "python_path": search}
        (workdir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        code, seconds = _spawn(workdir, cwd, search, environ, timeout, entry_point)
        return _collect(workdir, code, seconds, entry_point, search)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _environment(search: Sequence[str], environ: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    # the child must import watchkeeper itself (this copy), after the user's folders
    here = str(Path(__file__).resolve().parents[2])
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*search, *existing, here])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _spawn(
    workdir: Path,
    cwd: Path,
    search: Sequence[str],
    environ: Mapping[str, str] | None,
    timeout: float,
    entry_point: str,
) -> tuple[int, float]:
    started = time.perf_counter()
    with open(workdir / "output.log", "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", _MAIN, str(workdir)],
            cwd=cwd,
            env=_environment(search, environ),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise TrainerError(
                f"trainer {entry_point!r} did not finish within {timeout:g}s; it was killed "
                f"with every process it started. Raise retrain.timeout or make it faster."
                f"{_tail_note(workdir)}"
            ) from None
        except BaseException:  # e.g. KeyboardInterrupt: leave no orphan behind
            _kill_group(process)
            raise
    return code, time.perf_counter() - started


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (its session: it and everything it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(workdir: Path) -> str:
    try:
        with open(workdir / "output.log", "rb") as output:
            output.seek(0, os.SEEK_END)
            output.seek(max(0, output.tell() - _TAIL_BYTES))
            return output.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _tail_note(workdir: Path) -> str:
    tail = _tail(workdir).strip()
    return f"\nLast output:\n{tail}" if tail else " It printed nothing."


def _collect(
    workdir: Path, code: int, seconds: float, entry_point: str, search: Sequence[str]
) -> TrainerRun:
    error_file = workdir / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        what = f"{error['type']}: {error['message']}"
        if error["phase"] == "import":
            raise TrainerError(
                f"trainer {entry_point!r} could not be imported ({what}); the python path "
                f"searched first: {', '.join(search)}. Check retrain.trainer and "
                f"retrain.python_path."
            )
        if error["phase"] == "save":
            raise TrainerError(
                f"trainer {entry_point!r} returned a model joblib could not save ({what})."
            )
        raise TrainerError(f"trainer {entry_point!r} raised {what}\n{error['traceback'].rstrip()}")
    if code != 0 or not (workdir / "result.json").exists():
        if code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        raise TrainerError(
            f"trainer {entry_point!r} {how} without reporting an error (a crash?)."
            f"{_tail_note(workdir)}"
        )
    import joblib  # type: ignore[import-untyped]  # joblib ships no type hints

    try:
        model = joblib.load(workdir / "model.joblib")
    except Exception as exc:  # unpickling can raise anything
        hint = ""
        if isinstance(exc, ImportError):
            hint = (
                " The classes of the model must be importable in this process too (install "
                "their package, or put its folder on PYTHONPATH)."
            )
        raise TrainerError(
            f"The model of trainer {entry_point!r} could not be loaded back: "
            f"{type(exc).__name__}: {exc}.{hint}"
        ) from exc
    if not callable(getattr(model, "predict", None)):
        raise TrainerError(
            f"trainer {entry_point!r} returned a {type(model).__name__} ({model!r:.80}), not "
            "a fitted model with a predict method."
        )
    return TrainerRun(
        model=model, seconds=seconds, stdout_tail=_tail(workdir), entry_point=entry_point
    )
