"""Panels of the home page that higher areas contribute (core cannot import them: DESIGN.md, areas' direction).

An area appends the dotted name of a callable `panel(user) -> (template, context) | None` to
`HOME_PANELS` when its views are imported; the home page renders each panel that answers, in order,
above the cards of the navigation. The template sees its context as `panel`.
"""

import importlib

HOME_PANELS: list[str] = []


def register(dotted: str) -> None:
    """Add a panel by dotted name, once (importing a module twice must not show its panel twice)."""
    if dotted not in HOME_PANELS:
        HOME_PANELS.append(dotted)


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def panels(user) -> list[tuple[str, dict]]:
    """The (template, context) of every registered panel that has something for `user`."""
    shown = []
    for dotted in HOME_PANELS:
        found = _resolve(dotted)(user)
        if found is not None:
            template, context = found
            shown.append((template, context))
    return shown
