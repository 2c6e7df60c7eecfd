"""keyscope's commands in the command palette (ctrl+p).

``discover`` lists them without any work (the palette calls it on every open);
``search`` fuzzy-matches the same list.  Each command runs an app action, so the
palette, the key bindings and the footer all do exactly the same thing.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from keyscope.model import SEVERITIES

__all__ = ["COMMANDS", "KeyscopeCommands"]

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Keys: only legacy full-access keys", "facet('legacy')", "Toggle the legacy facet (l)"),
    ("Keys: only dormant keys", "facet('dormant')", "Toggle the dormant facet (d)"),
    ("Keys: only keys with excess scopes", "facet('excess')", "Toggle the excess facet (x)"),
    ("Keys: step minimum severity", "facet('severity')", "critical → high → … → any (v)"),
    ("Keys: step capability area", "facet('area')", "Keys granted a scope of the area (a)"),
    ("Keys: clear filter and facets", "clear_filter", "Show every key (c)"),
    ("Keys: sort by next column", "cycle_sort", "Cycle the sort column (o)"),
    ("Spec: scope catalog and anomalies", "app.show_spec", "What each scope unlocks (S)"),
    ("Export report…", "app.export_report", "HTML, JSON, Markdown, CSV or SARIF (ctrl+e)"),
    ("Reload the audit", "app.reload", "Read the inputs again (ctrl+r)"),
    ("Help", "app.help", "Keys and symbols (?)"),
    *(
        (
            f"Keys: severity at least {severity}",
            f"min_severity('{severity}')",
            f"Keys with an open {severity} or worse finding",
        )
        for severity in SEVERITIES
    ),
)
"""(title, action, help): actions without ``app.`` run on the keys screen."""


class KeyscopeCommands(Provider):
    """Palette entries for keyscope's own actions."""

    async def discover(self) -> Hits:
        for title, action, help_text in COMMANDS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )

    async def _run(self, action: str) -> None:
        app = self.app
        if action.startswith("app."):
            await app.run_action(action)
            return
        keys_screen = app.get_screen("keys") if app.is_screen_installed("keys") else None
        if keys_screen is None:
            return
        if app.screen is not keys_screen:
            # Facets live on the keys screen: go back there first.
            while app.screen is not keys_screen and len(app.screen_stack) > 1:
                app.pop_screen()
        await app.run_action(action, keys_screen)
