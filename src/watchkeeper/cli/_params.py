"""Options that ``compare`` and ``baseline fit`` share: the schema and the label columns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["PredictionOpt", "ProbaOpt", "SchemaOpt", "TargetOpt"]

SchemaOpt = Annotated[Path | None, typer.Option("--schema", help="Schema file (YAML/JSON).")]
TargetOpt = Annotated[str | None, typer.Option(help="Target column (inferred schema).")]
PredictionOpt = Annotated[str | None, typer.Option(help="Prediction column (inferred schema).")]
ProbaOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--prediction-proba",
        help="Score column; repeat for a multiclass model's proba_<class> columns.",
    ),
]
