"""Short camera names the CLI accepts, resolved against the cameras a model has."""

from __future__ import annotations

SHORT = {"ego": "ego_view", "third": "third_person", "follow": "follow"}


def camera_name(name: str, available: list[str]) -> str:
    """The model's camera for a short or full name; a ValueError lists the choices."""
    full = SHORT.get(name, name)
    if full not in available:
        short = {v: k for k, v in SHORT.items()}
        choices = ", ".join(f"{short[c]} ({c})" if c in short and short[c] != c else c for c in available)
        raise ValueError(f"unknown camera '{name}'; cameras: {choices}")
    return full
