"""Column kinds and roles: what each column of a model's data is, and what it is for.

A :class:`Schema` is inferred from a frame once (``Schema.infer``), adjusted where inference
guessed wrong, and saved beside the baseline. Inference rules (DESIGN.md, "Statistical
conventions"):

* integer and float columns are ``numeric``; integer columns are marked ``discrete`` (tests stay
  numeric and tie-aware, they are not turned into categories);
* string, category and object-of-strings columns are ``categorical``; bool columns are ``boolean``
  (compared like categoricals);
* a string column whose values are mostly unique and long (mean length >= 20 characters, more
  than half of the values distinct) is ``text`` (text checks are ``skipped`` for now);
* a string column whose non-missing values are (almost: 95 %) all distinct, with at least 50 of
  them, is taken to be an identifier: role ``id``, never compared;
* a string column of ISO 8601 dates or timestamps (as CSV files hold them) is ``datetime``;
* datetime columns are ``datetime`` with role ``timestamp`` when no other column has it.

Roles other than these are given by the caller (``target=``, ``prediction=``, ``roles=``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from watchkeeper.errors import MixedTypeColumnError, SchemaError, SerializationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMN_KINDS", "COLUMN_ROLES", "ColumnKind", "ColumnRole", "ColumnSpec", "Schema"]

ColumnKind = Literal["numeric", "categorical", "boolean", "datetime", "text"]
ColumnRole = Literal[
    "feature", "target", "prediction", "prediction_proba", "id", "timestamp", "segment"
]
COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)
COLUMN_ROLES: tuple[str, ...] = get_args(ColumnRole)

SCHEMA_VERSION = 1
_TEXT_MIN_MEAN_LENGTH = 20
_ID_MIN_ROWS = 50
_INFER_SAMPLE = 20_000
_ID_UNIQUE_SHARE = 0.95
# ISO 8601 dates and times as CSV files hold them ("2026-01-31", "2026-01-31 12:00:00.5+01:00").
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: its name, kind, role and whether numeric values are discrete."""

    name: str
    kind: ColumnKind
    role: ColumnRole = "feature"
    discrete: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchemaError(f"A column name must be a non-empty string. Got {self.name!r}.")
        if self.kind not in COLUMN_KINDS:
            raise SchemaError(
                f"Column {self.name!r}: kind must be one of {', '.join(COLUMN_KINDS)}. "
                f"Got {self.kind!r} instead."
            )
        if self.role not in COLUMN_ROLES:
            raise SchemaError(
                f"Column {self.name!r}: role must be one of {', '.join(COLUMN_ROLES)}. "
                f"Got {self.role!r} instead."
            )

    @property
    def is_categorical(self) -> bool:
        """True for kinds compared by category counts (categorical and boolean)."""
        return self.kind in ("categorical", "boolean")

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (what YAML and JSON hold)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "role": self.role}
        if self.discrete:
            out["discrete"] = True
        return out


class Schema:
    """The columns of a model's data, in order, with their kinds and roles.

    Parameters
    ----------
    columns
        The column specs; names must be unique, and at most one column may have each of the
        roles ``target``, ``prediction`` and ``timestamp`` (``prediction_proba``: one column for
        a binary score, one per class, ``proba_<class>``, for multiclass).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 41, 52], "plan": ["a", "b", "a"], "churned": [0, 1, 0]})
    >>> schema = Schema.infer(df, target="churned")
    >>> [(c.name, c.kind, c.role) for c in schema]  # doctest: +NORMALIZE_WHITESPACE
    [('age', 'numeric', 'feature'), ('plan', 'categorical', 'feature'),
     ('churned', 'numeric', 'target')]
    """

    _SINGLE_ROLES = ("target", "prediction", "timestamp")

    def __init__(self, columns: Iterable[ColumnSpec]) -> None:
        cols = tuple(columns)
        seen: set[str] = set()
        for c in cols:
            if not isinstance(c, ColumnSpec):
                raise SchemaError(f"Schema takes ColumnSpec objects. Got {type(c).__name__}.")
            if c.name in seen:
                raise SchemaError(f"Column {c.name!r} appears twice in the schema.")
            seen.add(c.name)
        for role in self._SINGLE_ROLES:
            having = [c.name for c in cols if c.role == role]
            if len(having) > 1:
                raise SchemaError(f"At most one column may have the role {role!r}. Got {having}.")
        self._columns = cols
        self._by_name = {c.name: c for c in cols}

    # -- access -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ColumnSpec]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ColumnSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"Column {name!r} is not in the schema (columns: {', '.join(self.names)})."
            ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self._columns == other._columns

    def __hash__(self) -> int:
        return hash(self._columns)

    def __repr__(self) -> str:
        inner = ", ".join(f"{c.name}:{c.kind}/{c.role}" for c in self._columns)
        return f"Schema({inner})"

    @property
    def names(self) -> list[str]:
        """Every column name, in order."""
        return [c.name for c in self._columns]

    @property
    def columns(self) -> tuple[ColumnSpec, ...]:
        """Every column spec, in order."""
        return self._columns

    def by_role(self, *roles: str) -> list[ColumnSpec]:
        """The columns having any of ``roles``, in order."""
        return [c for c in self._columns if c.role in roles]

    @property
    def features(self) -> list[ColumnSpec]:
        """The feature columns."""
        return self.by_role("feature")

    def role_column(self, role: str) -> str | None:
        """The name of the column with a single-column role, or None."""
        cols = self.by_role(role)
        return cols[0].name if cols else None

    # -- changes ------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any] | str]) -> Schema:
        """Return a copy where named columns get a new kind and/or role.

        ``overrides`` maps a column name to a kind name (``{"zip": "categorical"}``) or to a
        mapping of fields (``{"zip": {"kind": "categorical", "role": "segment"}}``).
        """
        cols = list(self._columns)
        index = {c.name: i for i, c in enumerate(cols)}
        for name, change in overrides.items():
            if name not in index:
                raise SchemaError(
                    f"The schema names column {name!r}, which is not in the data "
                    f"(columns: {', '.join(list(index)[:12])}{', ...' if len(index) > 12 else ''})."
                )
            fields = {"kind": change} if isinstance(change, str) else dict(change)
            unknown = set(fields) - {"kind", "role", "discrete"}
            if unknown:
                raise SchemaError(
                    f"Override for column {name!r} has unknown field(s) {sorted(unknown)}; "
                    "allowed: kind, role, discrete."
                )
            spec = replace(cols[index[name]], **fields)
            if "kind" in fields and fields["kind"] != "numeric" and "discrete" not in fields:
                spec = replace(spec, discrete=False)
            cols[index[name]] = spec
        return Schema(cols)

    # -- inference ----------------------------------------------------------------------
    @classmethod
    def infer(
        cls,
        data: Any,
        *,
        target: str | None = None,
        prediction: str | None = None,
        prediction_proba: str | Sequence[str] | None = None,
        id: str | None = None,
        timestamp: str | None = None,
        roles: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, Any] | str] | None = None,
    ) -> Schema:
        """Infer a schema from a pandas DataFrame, pyarrow Table or polars DataFrame.

        Parameters
        ----------
        data
            The frame (its columns and dtypes are read; values are sampled).
        target, prediction, prediction_proba, id, timestamp
            Convenience: the column having that role (``prediction_proba``: one column, or a
            list of ``proba_<class>`` columns for a multiclass model).
        roles
            Column name -> role, for any other roles (e.g. ``{"region": "segment"}``).
        overrides
            Column name -> kind (or mapping of fields), applied last.

        Raises
        ------
        MixedTypeColumnError
            An object column mixes value types (say, strings and numbers) and no override
            says how to read it.
        SchemaError
            A role names a column that is not in the data.
        """
        from watchkeeper._convert import column_names, is_arrow, is_polars, to_pandas

        if is_polars(data):
            data = data.to_arrow()
        arrow = is_arrow(data)
        df = data if arrow else to_pandas(data)
        names = column_names(df, what="reference")
        given: dict[str, str] = dict(roles or {})
        probas = [prediction_proba] if isinstance(prediction_proba, str) else prediction_proba
        for role, name in (
            ("target", target),
            ("prediction", prediction),
            *(("prediction_proba", p) for p in probas or ()),
            ("id", id),
            ("timestamp", timestamp),
        ):
            if name is not None:
                given[name] = role
        missing = [n for n in given if n not in names]
        if missing:
            raise SchemaError(
                f"Role given for column(s) {missing} not in the data (columns: {', '.join(names)})."
            )
        forced = dict(overrides or {})
        specs: list[ColumnSpec] = []
        for position, key in enumerate(names):
            change = forced.get(key)
            if isinstance(change, str) or (isinstance(change, Mapping) and "kind" in change):
                # The override decides the kind; inference would only second-guess it (and
                # would refuse a mixed-type column the override is there to rescue).
                spec = ColumnSpec(key, "categorical")
            else:
                spec = (
                    _infer_arrow_column(key, data.column(position))
                    if arrow
                    else _infer_column(key, df.iloc[:, position])
                )
            given_role = given.get(key)
            if given_role is not None:
                spec = replace(spec, role=cast("ColumnRole", given_role))
            specs.append(spec)
        if "timestamp" not in given.values():
            stamped = False
            for i, s in enumerate(specs):
                if s.kind == "datetime" and s.role == "feature" and not stamped:
                    specs[i] = replace(s, role="timestamp")
                    stamped = True
        schema = cls(specs)
        return schema.with_overrides(forced) if forced else schema

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"schema_version": 1, "columns": [{"name", "kind", "role"[, "discrete"]}, ...]}``."""
        return {"schema_version": SCHEMA_VERSION, "columns": [c.to_dict() for c in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema from :meth:`to_dict` output (or a hand-written YAML file).

        Raises
        ------
        SchemaError
            With the path of the offending entry, e.g. ``columns[2].kind``.
        """
        if not isinstance(data, Mapping):
            raise SchemaError(f"A schema must be a mapping. Got {type(data).__name__}.")
        unknown = set(data) - {"schema_version", "columns"}
        if unknown:
            raise SchemaError(f"Unknown schema key(s): {sorted(unknown)}.")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaError(
                f"schema_version {version!r} is not supported (this watchkeeper reads "
                f"{SCHEMA_VERSION})."
            )
        cols = data.get("columns")
        if not isinstance(cols, list) or not cols:
            raise SchemaError("'columns' must be a non-empty list of column entries.")
        specs = []
        for i, entry in enumerate(cols):
            if not isinstance(entry, Mapping):
                raise SchemaError(f"columns[{i}] must be a mapping. Got {entry!r}.")
            extra = set(entry) - {"name", "kind", "role", "discrete"}
            if extra:
                raise SchemaError(f"columns[{i}] has unknown key(s) {sorted(extra)}.")
            if "name" not in entry or "kind" not in entry:
                raise SchemaError(f"columns[{i}] needs 'name' and 'kind'.")
            try:
                specs.append(
                    ColumnSpec(
                        name=entry["name"],
                        kind=entry["kind"],
                        role=entry.get("role", "feature"),
                        discrete=bool(entry.get("discrete", False)),
                    )
                )
            except SchemaError as exc:
                raise SchemaError(f"columns[{i}]: {exc}") from None
        return cls(specs)

    def to_yaml(self) -> str:
        """The schema as YAML text."""
        import yaml

        return str(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, text: str) -> Schema:
        """Parse YAML (or JSON, which is YAML) text."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise SchemaError(f"The schema is not valid YAML: {problem}{where}.") from exc
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write the schema as YAML."""
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Read a schema from a YAML or JSON file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise SerializationError(f"Cannot read schema file {str(p)!r}: {exc}") from exc
        try:
            return cls.from_yaml(text)
        except SchemaError as exc:
            raise SchemaError(f"{p}: {exc}") from None


def _infer_column(name: str, series: pd.Series[Any]) -> ColumnSpec:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnSpec(name, "boolean")
    if pd.api.types.is_integer_dtype(dtype):
        return ColumnSpec(name, "numeric", discrete=True)
    if pd.api.types.is_float_dtype(dtype):
        return ColumnSpec(name, "numeric")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnSpec(name, "datetime")
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnSpec(name, "categorical")
    if pd.api.types.is_timedelta64_dtype(dtype):
        return ColumnSpec(name, "numeric")
    if pd.api.types.is_complex_dtype(dtype):
        raise SchemaError(
            f"Column {name!r} has dtype {dtype}, which watchkeeper cannot compare; drop it or "
            "split it into real and imaginary parts."
        )
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "empty"):
        return _string_or_text_or_id(name, series)
    if inferred == "boolean":
        return ColumnSpec(name, "boolean")
    if inferred in ("integer", "floating", "decimal"):
        return ColumnSpec(name, "numeric", discrete=inferred == "integer")
    if inferred in ("datetime", "datetime64", "date"):
        return ColumnSpec(name, "datetime")
    kinds = sorted({type(v).__name__ for v in series.dropna().head(_INFER_SAMPLE)})
    raise MixedTypeColumnError(
        f"Column {name!r} mixes value types ({', '.join(kinds)}); cast it to one type, or say "
        f"how to read it with a schema override (e.g. {{{name!r}: 'categorical'}})."
    )


def _string_or_text_or_id(name: str, series: pd.Series[Any]) -> ColumnSpec:
    # An evenly spaced sample of rows: cheap on a million rows, and not just the first rows.
    step = max(1, len(series) // _INFER_SAMPLE)
    values = series.iloc[::step].dropna()
    n = len(values)
    if n == 0:
        return ColumnSpec(name, "categorical")
    head = values.head(1_000).astype(str)
    if bool(head.str.fullmatch(_ISO_DATETIME).all()):
        return ColumnSpec(name, "datetime")
    n_unique = values.nunique()
    mean_len = float(values.astype(str).str.len().mean())
    if n_unique > n / 2 and mean_len >= _TEXT_MIN_MEAN_LENGTH:
        return ColumnSpec(name, "text")
    if n >= _ID_MIN_ROWS and n_unique >= _ID_UNIQUE_SHARE * n:
        return ColumnSpec(name, "categorical", role="id")
    return ColumnSpec(name, "categorical")


def _infer_arrow_column(name: str, column: Any) -> ColumnSpec:
    """Infer a column's kind from its arrow type (no pandas needed: the CLI reads with arrow)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_dictionary(t):
        return ColumnSpec(name, "categorical")
    if pa.types.is_boolean(t):
        return ColumnSpec(name, "boolean")
    if pa.types.is_integer(t):
        return ColumnSpec(name, "numeric", discrete=True)
    if pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_duration(t):
        return ColumnSpec(name, "numeric")
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return ColumnSpec(name, "datetime")
    if pa.types.is_null(t):
        return ColumnSpec(name, "categorical")
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise SchemaError(
            f"Column {name!r} has arrow type {t}, which watchkeeper cannot compare; cast it or "
            f"give it a kind with a schema override."
        )
    step = max(1, len(column) // _INFER_SAMPLE)
    sample = column if step == 1 else column.take(np.arange(0, len(column), step))
    values = pc.drop_null(sample)
    n = len(values)
    if n == 0:
        return ColumnSpec(name, "categorical")
    head = values.slice(0, 1_000)
    if pc.all(pc.match_substring_regex(head, f"^{_ISO_DATETIME}$")).as_py():
        return ColumnSpec(name, "datetime")
    n_unique = pc.count_distinct(values).as_py()
    mean_len = pc.mean(pc.utf8_length(values)).as_py() or 0.0
    if n_unique > n / 2 and mean_len >= _TEXT_MIN_MEAN_LENGTH:
        return ColumnSpec(name, "text")
    if n >= _ID_MIN_ROWS and n_unique >= _ID_UNIQUE_SHARE * n:
        return ColumnSpec(name, "categorical", role="id")
    return ColumnSpec(name, "categorical")
