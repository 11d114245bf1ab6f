"""Names of models, aliases and tags: one strict pattern each, checked before any query.

Names never become paths (artifacts are addressed by sha256), but they do appear in URIs
(``models:/churn@production``), metric labels and file names users choose, so they are kept
to letters, digits and ``_ . -``.
"""

from __future__ import annotations

import re

from watchkeeper.errors import InvalidNameError

__all__ = [
    "ALIAS_PATTERN",
    "MODEL_PATTERN",
    "TAG_PATTERN",
    "check_alias",
    "check_model_name",
    "check_tags",
]

MODEL_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,63}")
TAG_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
# These would read as a version in a models:/ URI.
_RESERVED_ALIASES = re.compile(r"latest|v\d+")


def check_model_name(name: object) -> str:
    """``name`` if it is a valid model name, else :class:`InvalidNameError`."""
    if not isinstance(name, str) or not MODEL_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidNameError(
            f"Invalid model name {name!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter (e.g. 'churn' or 'churn-v2')."
        )
    return name


def check_alias(alias: object) -> str:
    """``alias`` if it is a valid alias name, else :class:`InvalidNameError`."""
    if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
        raise InvalidNameError(
            f"Invalid alias {alias!r}: use 1-64 lower-case letters, digits, '_' or '-', "
            "starting with a letter (e.g. 'production', 'challenger', 'shadow')."
        )
    if _RESERVED_ALIASES.fullmatch(alias):
        raise InvalidNameError(
            f"Invalid alias {alias!r}: 'latest' and 'v<number>' are reserved (they would read "
            "as a version in models:/ URIs)."
        )
    return alias


def check_tags(tags: object, what: str = "tag") -> dict[str, str]:
    """``tags`` as a ``{key: value}`` dict of strings, keys checked against the tag pattern."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidNameError(f"{what}s must be a mapping of name to text; got {type(tags)}.")
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not TAG_PATTERN.fullmatch(key):
            raise InvalidNameError(
                f"Invalid {what} name {key!r}: use 1-128 letters, digits, '_', '.' or '-', "
                "starting with a letter."
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidNameError(
                f"The value of {what} {key!r} must be text (or a number); got {type(value)}."
            )
        out[key] = str(value)
    return out
