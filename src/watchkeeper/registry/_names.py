"""Names of models, aliases and tags: one strict pattern each, checked before any query.

Names never become paths (artifacts are addressed by sha256), but they do appear in URIs
(``models:/churn@production``), metric labels and file names users choose, so they are kept
to letters, digits and ``_ . -``.
"""

from __future__ import annotations

import re

from watchkeeper.errors import InvalidNameError, InvalidParameterError

__all__ = [
    "ALIAS_PATTERN",
    "MODEL_PATTERN",
    "TAG_PATTERN",
    "check_alias",
    "check_model_name",
    "check_tags",
    "check_text",
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
        out[key] = check_text(str(value), f"The value of {what} {key!r}")
    return out


def check_text(value: object, what: str, *, max_length: int | None = None) -> str:
    """``value`` if it is text a database stores as given: a str without NUL characters
    (PostgreSQL refuses them) and at most ``max_length`` characters."""
    if not isinstance(value, str):
        raise InvalidParameterError(f"{what} must be text. Got {type(value).__name__} instead.")
    if "\x00" in value:
        raise InvalidParameterError(f"{what} must not contain NUL characters. Got {value!r}.")
    if max_length is not None and len(value) > max_length:
        raise InvalidParameterError(
            f"{what} must be at most {max_length} characters. Got {len(value)} characters."
        )
    return value
