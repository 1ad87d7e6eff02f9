"""One readable format for pydantic validation errors at every boundary (scenes, skill args, plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def read_yaml_mapping(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file, or ``error`` saying which file and what is wrong with it."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except yaml.YAMLError as e:
        raise error(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping at the top level of a {what} file, got {type(raw).__name__}")
    return raw
