"""Sensitive input columns: dropped from the prediction log, or logged as a keyed hash.

``watchkeeper.yaml``'s ``log.columns`` maps an input column to ``exclude`` (never written to
the log) or ``hash`` (written as an HMAC-SHA256 of the value under a secret key, so equal
values stay equal, and the column can still be counted and monitored as a category, without
being readable). The key comes from ``WATCHKEEPER_LOG_HASH_KEY``: a plain, unkeyed hash of a
low-entropy value (an e-mail address, a postcode, a date of birth) is reversed by hashing
every candidate value and comparing, which a keyed hash prevents as long as the key stays
secret.

The rules are applied before a batch is built (:func:`~watchkeeper.store.predictions.make_batch`),
by :meth:`Project.log_predictions <watchkeeper.Project.log_predictions>` and by the server,
on either form of the inputs: a DataFrame, or one 1-D array per column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from watchkeeper.errors import ConfigError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

__all__ = [
    "HASH_HEX_CHARS",
    "HASH_KEY_ENV",
    "ColumnRule",
    "apply_column_rules",
    "canonical_text",
    "hash_key_from_env",
    "hash_value",
]

HASH_KEY_ENV = "WATCHKEEPER_LOG_HASH_KEY"
HASH_HEX_CHARS = 32  # the first 128 bits of the HMAC, in hex
RULES = ("exclude", "hash")

ColumnRule = Literal["exclude", "hash"]
Columns = TypeVar("Columns", "pd.DataFrame", "dict[str, np.ndarray[Any, Any]]")


def hash_key_from_env(environ: Mapping[str, str] = os.environ) -> bytes:
    """The key of hashed log columns: ``WATCHKEEPER_LOG_HASH_KEY`` (its UTF-8 bytes).

    Raises
    ------
    ConfigError
        The variable is not set, or empty.

    Examples
    --------
    >>> hash_key_from_env({"WATCHKEEPER_LOG_HASH_KEY": "s3cret"})
    b's3cret'
    """
    value = environ.get(HASH_KEY_ENV, "")
    if not value:
        raise ConfigError(
            f"log.columns asks to hash column(s), and {HASH_KEY_ENV} is not set. Set "
            f"{HASH_KEY_ENV} to a long random secret (e.g. `openssl rand -hex 32`), the same "
            "for every process writing the log: an unkeyed hash of a value such as an e-mail "
            "address or a postcode can be reversed by hashing every candidate."
        )
    return value.encode("utf-8")


def canonical_text(value: Any) -> str:
    """The text a value is hashed as, the same whatever container or dtype carried it.

    Text as it is; ``true``/``false``; integers, and floats with an integral value, in
    decimal (so ``7`` and ``7.0`` hash alike, as an integer column does once it holds a
    null); other floats as Python's shortest round-trip ``repr`` (``0.1``, ``inf``); dates and
    times in ISO 8601 (``pandas.Timestamp.isoformat``: ``2024-01-31T12:00:00``, with the
    offset if the time has one); bytes in hex; anything else (a Decimal...) as ``str``.

    Examples
    --------
    >>> [canonical_text(v) for v in ("AB1 2CD", True, np.int64(7), 7.0, 0.1)]
    ['AB1 2CD', 'true', '7', '7', '0.1']
    """
    import pandas as pd

    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, dt.datetime | np.datetime64):
        return str(pd.Timestamp(value).isoformat())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def hash_value(value: Any, key: bytes) -> str:
    """HMAC-SHA256 under ``key`` of :func:`canonical_text` of ``value``, hex, first 32 chars.

    Examples
    --------
    >>> hash_value("AB1 2CD", b"s3cret")
    '220163b9a8f05df2dd696bc4c7a93e5b'
    """
    digest = hmac.new(key, canonical_text(value).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:HASH_HEX_CHARS]


def apply_column_rules(
    columns: Columns, rules: Mapping[str, ColumnRule], key: bytes | None
) -> Columns:
    """``columns`` with the ``exclude`` columns dropped and the ``hash`` ones hashed.

    Parameters
    ----------
    columns
        A DataFrame, or a dict of one 1-D array per column; the result is of the same kind
        (a new one: ``columns`` is not changed), with the columns in their order.
    rules
        Column → ``"exclude"`` or ``"hash"``. A rule naming a column not in ``columns`` is
        ignored.
    key
        The secret key of :func:`hash_value` (:func:`hash_key_from_env`); may be None when
        ``rules`` hash nothing.

    Returns
    -------
    DataFrame or dict
        A hashed column holds 32-character hex strings (object dtype, or pandas' string
        dtype in a DataFrame); nulls (None, NaN, NaT) stay null, equal values get equal
        hashes. Each distinct value is hashed once (the column is factorized first).

    Raises
    ------
    InvalidParameterError
        A rule other than ``exclude`` or ``hash``.
    ConfigError
        A ``hash`` rule, and no key.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"email": ["a@x.org", None, "a@x.org"], "age": [31, 40, 52]})
    >>> out = apply_column_rules(frame, {"email": "hash", "ssn": "exclude"}, b"s3cret")
    >>> out["email"][0] == out["email"][2] == hash_value("a@x.org", b"s3cret")
    True
    >>> out["email"].isna().tolist()
    [False, True, False]
    >>> list(apply_column_rules(frame, {"age": "exclude"}, None).columns)
    ['email']
    """
    import pandas as pd

    unknown = {name: rule for name, rule in rules.items() if rule not in RULES}
    if unknown:
        raise InvalidParameterError(
            f"A column rule must be 'exclude' or 'hash'. Got {unknown} instead."
        )
    if key is not None and not isinstance(key, bytes):
        raise InvalidParameterError(f"key must be bytes. Got {type(key).__name__} instead.")
    if not key and "hash" in rules.values():
        hash_key_from_env({})  # raises the error that says how to set the key
    if isinstance(columns, pd.DataFrame):
        present = [c for c in columns.columns if rules.get(c) != "exclude"]
        frame = columns[present].copy(deep=False)
        for name in present:
            if rules.get(name) == "hash":
                frame[name] = pd.Series(_hashed(frame[name], key or b""), index=frame.index)
        return frame
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name, values in columns.items():
        rule = rules.get(name)
        if rule == "exclude":
            continue
        out[name] = _hashed(values, key or b"") if rule == "hash" else values
    return out


def _hashed(values: Any, key: bytes) -> np.ndarray[Any, Any]:
    """The hashes of ``values`` (None where a value is null), one HMAC per distinct value."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # The last slot answers code -1 (a null).
    table = np.array([*(hash_value(v, key) for v in uniques), None], dtype=object)
    return np.asarray(table[codes], dtype=object)
