from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from watchkeeper.errors import MixedTypeColumnError, SchemaError
from watchkeeper.schema import ColumnSpec, Schema


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.normal(size=n),
            "plan": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "tier": pd.Categorical(rng.choice(["x", "y"], n)),
            "active": rng.random(n) > 0.5,
            "seen_at": pd.date_range("2026-01-01", periods=n, freq="h"),
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "note": [f"free text number {i} with words in it" for i in range(n)],
            "churned": rng.integers(0, 2, n),
        }
    )


def test_infer_kinds_and_roles() -> None:
    s = Schema.infer(_frame(), target="churned", roles={"plan": "segment"})
    got = {c.name: (c.kind, c.role, c.discrete) for c in s}
    assert got == {
        "age": ("numeric", "feature", True),
        "income": ("numeric", "feature", False),
        "plan": ("categorical", "segment", False),
        "tier": ("categorical", "feature", False),
        "active": ("boolean", "feature", False),
        "seen_at": ("datetime", "timestamp", False),
        "customer_id": ("categorical", "id", False),
        "note": ("text", "feature", False),
        "churned": ("numeric", "target", True),
    }
    assert [c.name for c in s.features] == ["age", "income", "tier", "active", "note"]
    assert s.role_column("target") == "churned"


def test_infer_from_arrow_matches_pandas() -> None:
    df = _frame()
    assert Schema.infer(pa.Table.from_pandas(df, preserve_index=False)) == Schema.infer(df)


def test_mixed_type_object_column_is_a_clear_error() -> None:
    df = pd.DataFrame({"x": pd.Series(["a", 1.5, "b", 2.0] * 10, dtype=object)})
    with pytest.raises(MixedTypeColumnError, match=r"Column 'x' mixes value types.*override"):
        Schema.infer(df)
    # An override rescues it.
    assert Schema.infer(df, overrides={"x": "categorical"})["x"].kind == "categorical"


def test_overrides_and_errors() -> None:
    s = Schema.infer(_frame())
    s2 = s.with_overrides({"age": "categorical", "plan": {"role": "segment"}})
    assert s2["age"] == ColumnSpec("age", "categorical")
    assert s2["plan"].role == "segment"
    with pytest.raises(SchemaError, match="'nope', which is not in the data"):
        s.with_overrides({"nope": "numeric"})
    with pytest.raises(SchemaError, match="unknown field"):
        s.with_overrides({"age": {"colour": "red"}})
    with pytest.raises(SchemaError, match="kind must be one of"):
        ColumnSpec("x", "vector")  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="At most one column may have the role 'target'"):
        Schema([ColumnSpec("a", "numeric", "target"), ColumnSpec("b", "numeric", "target")])
    with pytest.raises(SchemaError, match="Role given for column"):
        Schema.infer(_frame(), target="missing")


def test_yaml_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = Schema.infer(_frame(), target="churned")
    path = tmp_path / "schema.yaml"
    s.save(path)
    assert Schema.load(path) == s
    assert Schema.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("columns: []", "non-empty list"),
        ("columns:\n  - {name: a}", r"columns\[0\] needs 'name' and 'kind'"),
        ("columns:\n  - {name: a, kind: numeric, colour: red}", r"columns\[0\] has unknown"),
        ("columns:\n  - {name: a, kind: blob}", r"columns\[0\]: .*kind must be one of"),
        ("colums: []", "Unknown schema key"),
        ("schema_version: 7\ncolumns:\n  - {name: a, kind: numeric}", "schema_version 7"),
        ("{{{", "not valid YAML"),
    ],
)
def test_schema_file_errors_name_the_path(text: str, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        Schema.from_yaml(text)


def test_iso_timestamp_strings_from_csv_are_datetime() -> None:
    df = pd.DataFrame(
        {
            "when": ["2026-01-01 10:00:00", "2026-01-01 10:00:00", "2026-01-02T11:30:00Z"] * 30,
            "day": ["2026-01-01", "2026-01-02", "2026-01-03"] * 30,
        }
    )
    s = Schema.infer(df)
    assert (s["when"].kind, s["when"].role) == ("datetime", "timestamp")
    assert (s["day"].kind, s["day"].role) == ("datetime", "feature")


def test_almost_unique_strings_are_identifiers() -> None:
    ids = [f"k{i}" for i in range(100)]
    ids[1] = ids[0]  # one duplicate does not make a key a category
    assert Schema.infer(pd.DataFrame({"key": ids}))["key"].role == "id"
