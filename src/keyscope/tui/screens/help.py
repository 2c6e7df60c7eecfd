"""The help screen: what the symbols mean and which keys do what."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

__all__ = ["HELP_TEXT", "HelpScreen"]

HELP_TEXT = """\
# keyscope browse

Which of our API keys can do more than they need?

## Keys screen
| Key | Does |
|---|---|
| `/` | filter by text (name, id, owner, scope, finding rule); `Esc` back to the table |
| `l` `d` `x` | only legacy full-access keys / dormant keys / keys with excess scopes |
| `v` | step the minimum severity of an open finding (critical → … → info → any) |
| `a` | step the capability area (keys granted a scope of that area) |
| `c` | clear the filter and facets |
| `o` / `O` | sort by the next column / reverse; or click a column header |
| `Enter` / double-click | open the key |

Scope chips: `✓` used in the window, `✗` granted but never needed (excess),
`!` missing (denied requests needed it), `?` kept: too little data to judge.
`⚠ FULL ACCESS` marks a legacy key minted before scopes existed.

## Key screen: the what-if
The grid is the platform's scope picker: capability area by read and write.
`[x]` ticked, `[~]` implied by a ticked scope, `G` granted, `U` used,
`S` suggested, `!` missing.

| Key | Does |
|---|---|
| arrows, `Space`/`Enter`, click | move, tick or untick a scope |
| `s` | tick exactly the suggested scopes (the starting point for a replacement key) |
| `g` | tick the scopes the key holds today |
| `t` | triage the highlighted finding: accept or suppress, with reason, owner, expiry |
| `Esc` | back to the keys |

The What-if tab lists the requests the key really made in the window that the
ticked scopes would have refused, busiest first; risk and reach update at once.

## Everywhere
| Key | Does |
|---|---|
| `ctrl+p` | command palette (filters, screens, export, reload) |
| `S` | the spec: scope catalog, operations, anomalies |
| `ctrl+e` | export the HTML, JSON or Markdown report |
| `ctrl+r` | reload the audit from the inputs |
| `?` | this help |
| `q` | quit |

Triage decisions are written to the suppressions file the scheduled audit reads
(`suppressions` in keyscope.toml, or ./keyscope-suppressions.yaml).
"""


class HelpScreen(ModalScreen[None]):
    """Key bindings and the meaning of every symbol."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="close-help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Markdown(HELP_TEXT, id="help-text")
