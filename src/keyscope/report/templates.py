"""The Jinja2 environment every templated report uses.

The templates live in the repository's top-level ``reports/templates/`` and ship in
the wheel as ``keyscope/templates`` (``pyproject.toml``, hatch ``force-include``).  The
loader takes the installed copy when it exists and the checkout's otherwise, so the
same code works from a wheel and from an editable install.

Safety rules, all enforced here or by tests:

- ``autoescape=True`` for every template, whatever its name (``select_autoescape``
  keyed on extensions would leave ``.j2`` files unescaped).
- ``StrictUndefined``: a misspelt variable is an error, never an empty string.
- Templates come only from the template folder; data never becomes a template
  (no ``from_string``), so ``{{7*7}}`` in a key name stays text.
- Data for scripts goes through ``|tojson`` (``<``, ``>``, ``&`` and ``'`` escaped).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2

__all__ = ["csp_hash", "environment", "template_folder"]

_PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_CHECKOUT_TEMPLATES = Path(__file__).resolve().parents[3] / "reports" / "templates"


def template_folder() -> Path:
    """The installed template folder, or the checkout's ``reports/templates``."""
    if _PACKAGE_TEMPLATES.is_dir():
        return _PACKAGE_TEMPLATES
    return _CHECKOUT_TEMPLATES


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared, autoescaping, strict environment (built once)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_folder())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    # Compact JSON for embedded data: the 10,000-key report is mostly this blob.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    return env


def csp_hash(template_name: str) -> str:
    """The CSP source (``'sha256-…'``) of a static asset template as it is included.

    The asset (inline script or style) is rendered through the same environment as
    the ``{% include %}`` in the report, so the bytes hashed are the bytes served.
    """
    text = environment().get_template(template_name).render()
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
