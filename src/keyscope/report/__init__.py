"""Reporters: each renders one :class:`~keyscope.model.AuditResult` to text, never recomputing it.

:data:`RENDERERS` maps a format name (``--format``, ``--json F``...) to the function
that renders it, as ``"module:function"`` so nothing heavy is imported until a format
is asked for.  A reporter module adds its entry here; :func:`get_renderer` resolves one.
Every renderer has the signature ``render(result: AuditResult) -> str``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keyscope.model import AuditResult

__all__ = ["RENDERERS", "get_renderer"]

RENDERERS: dict[str, str] = {
    "text": "keyscope.report.text:render_text",
    "json": "keyscope.report.json_report:render_json",
    "html": "keyscope.report.html:render_html",
    "md": "keyscope.report.markdown:render_markdown",
    "csv": "keyscope.report.csv_report:render_csv",
    "sarif": "keyscope.report.sarif:render_sarif",
}
"""Format name -> ``"module:function"`` of its renderer."""


def get_renderer(name: str) -> Callable[[AuditResult], str]:
    """The render function of a format.

    Raises:
        UsageError: the format is not registered (or its module is missing).
    """
    from keyscope.errors import UsageError

    target = RENDERERS.get(name)
    if target is None:
        known = ", ".join(sorted(RENDERERS))
        raise UsageError(f"unknown report format {name!r} (known: {known})")
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise UsageError(f"report format {name!r} is not available in this build") from None
        raise
    renderer: Callable[[AuditResult], str] = getattr(module, function_name)
    return renderer
