"""The monochrome look used under NO_COLOR: the terminal's own colours, with bold, reverse and underline.

Textual's answer to NO_COLOR is a filter that turns every colour grey; with the
ANSI themes that draws the header, the footer and dialogs as colour 16 on 16,
which no palette can read. Here the colours are all the terminal's default and
whatever must stand out does so by text style (see app.tcss, ``.-mono``).
"""

from __future__ import annotations

from textual.filter import Monochrome, NoColor
from textual.theme import Theme

from . import format as fmt

MONO_THEME = Theme(
    name="sdjobs-mono", primary="ansi_default", secondary="ansi_default", warning="ansi_default",
    error="ansi_default", success="ansi_default", accent="ansi_default", foreground="ansi_default",
    background="ansi_default", surface="ansi_default", panel="ansi_default", boost="ansi_default",
    dark=True, ansi=True,
    variables={"ansi-background": "ansi_default", "ansi-foreground": "ansi_default",
               "block-cursor-foreground": "ansi_default", "block-cursor-background": "ansi_default",
               "block-cursor-text-style": "reverse", "footer-key-foreground": "ansi_default",
               "footer-key-background": "ansi_default", "footer-description-foreground": "ansi_default",
               "footer-background": "ansi_default", "input-cursor-background": "ansi_default",
               "input-cursor-foreground": "ansi_default", "input-cursor-text-style": "reverse",
               "input-selection-background": "ansi_default", "border-blurred": "ansi_default",
               "scrollbar": "ansi_default", "scrollbar-hover": "ansi_default", "scrollbar-active": "ansi_default",
               "scrollbar-background": "ansi_default", "scrollbar-corner-color": "ansi_default"},
)


def use_monochrome(app, on: bool) -> None:
    """Under NO_COLOR: styles instead of colours for the cells, and no grey-mapping filter."""
    fmt.set_monochrome(on)
    if on:
        app.add_class("-mono")
        # Textual's own NO_COLOR filter maps colours to greys (black on black here): use the plain one
        app._filters = [f for f in app._filters if not isinstance(f, (Monochrome, NoColor))] + [NoColor()]
