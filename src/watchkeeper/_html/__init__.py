"""HTML building blocks shared by the two HTML documents: server-side SVG charts
(:mod:`watchkeeper._html._svg`) and the Jinja2 templates with their common stylesheet.

Private, and on the core side of the layering: ``Report.to_html`` (in :mod:`watchkeeper.monitor`)
and ``MonitoringReport`` (in :mod:`watchkeeper.report`) both render through here. Jinja2 is
imported only when a page is rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["environment"]

_ENVIRONMENT: list[Environment] = []


def environment() -> Environment:
    """The Jinja2 environment over this package's templates (autoescaped; built once)."""
    if not _ENVIRONMENT:
        from jinja2 import Environment, PackageLoader, select_autoescape

        _ENVIRONMENT.append(
            Environment(
                loader=PackageLoader("watchkeeper._html", "templates"),
                autoescape=select_autoescape(default=True, default_for_string=True),
                trim_blocks=True,
                lstrip_blocks=True,
            )
        )
    return _ENVIRONMENT[0]
