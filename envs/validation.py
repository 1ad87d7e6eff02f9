"""One readable format for pydantic validation errors at every boundary (scenes, skill args, plans)."""

from __future__ import annotations

from pydantic import ValidationError


def format_validation_error(err: ValidationError, indent: str = "  ") -> str:
    """One line per problem: the dotted field path, what was wrong, and the offending value."""
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        shown = (
            "" if isinstance(got, dict | list) or got is None or e["type"] == "missing" else f" (got {got!r})"
        )
        lines.append(f"{indent}{where}: {msg}{shown}")
    return "\n".join(lines)
