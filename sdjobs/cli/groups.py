"""Settings every command group shares."""

import click.exceptions
import typer

# click (8.2 and later) already ends "No such command" with "Did you mean ...?"; typer (0.16 and
# later) appends its own suggestion to the same message, so the user read it twice.
NO_DOUBLE_SUGGESTION = ({"suggest_commands": False}
                        if hasattr(click.exceptions, "NoSuchCommand")
                        and "suggest_commands" in typer.Typer.__init__.__code__.co_varnames else {})
