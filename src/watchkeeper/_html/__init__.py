"""HTML building blocks shared by the two HTML documents: server-side SVG charts
(:mod:`watchkeeper._html._svg` over time, :mod:`watchkeeper._html._distribution` for one
comparison), the Jinja2 templates with their common stylesheet, and the helpers both use for
downloads (:func:`data_uri`, :func:`slug`).

The stylesheet (``templates/_style.css``) scopes every rule under the ``watchkeeper-report``
class, the element that wraps each page's content, so the same rules style a standalone page
and a fragment shown inside a notebook without touching the notebook's own elements.

Private, and on the core side of the layering: ``Report.to_html`` (in :mod:`watchkeeper.monitor`)
and ``MonitoringReport`` (in :mod:`watchkeeper.report`) both render through here. Jinja2 is
imported only when a page is rendered.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from jinja2 import Environment

__all__ = ["csv_text", "data_uri", "environment", "slug"]


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment over this package's templates (autoescaped; built once)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("watchkeeper._html", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def data_uri(payload: str, media: str) -> str:
    """``payload`` (UTF-8) as a base64 ``data:`` URI of type ``media``, for a download link."""
    return f"data:{media};base64," + base64.b64encode(payload.encode()).decode("ascii")


# A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: object) -> object:
    """``value``, with a text that a spreadsheet would run as a formula quoted by a leading
    apostrophe (column and category names come from the monitored data); numbers, and texts
    that are numbers such as ``-0.5``, are left as they are."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """``header`` and ``rows`` as CSV text (``\n`` line ends), formula-like texts quoted.

    Examples
    --------
    >>> print(csv_text(["category", "share"], [["=HYPERLINK(1)", -0.5], ["-1", "-x"]]), end="")
    category,share
    '=HYPERLINK(1),-0.5
    -1,'-x
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (letters, digits, ``-_.``; others become ``_``).

    Examples
    --------
    >>> slug("monthly charges/<b>"), slug("..")
    ('monthly_charges__b', 'column')
    """
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return kept.strip("._") or "column"
