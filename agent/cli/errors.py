"""Turn expected errors into a one-line message and exit code 2 instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

err_console = Console(stderr=True, soft_wrap=True)

BAD_INPUT = 2


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Errors of these kinds are the user's input being wrong: print them and exit 2."""
    try:
        yield
    except kinds as e:
        # KeyError's str() adds quotes; show the message as written.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        err_console.print(f"error: {msg}", style="red", highlight=False, markup=False)
        raise typer.Exit(BAD_INPUT) from None
