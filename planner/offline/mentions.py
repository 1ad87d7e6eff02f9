"""What a request names: scene objects and stations, volumes, a hand.

Names are found by their words: the parts of an object's name ("red", "block"), its type, and the liquids
it holds ("hydrogen", "peroxide"), plus a few synonyms. A word that fits several objects ("bottle") names
none of them: extraction never guesses between objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envs.base import WorldState

SYNONYMS = {
    "cube": "block",
    "beaker": "flask",
    "detergent": "soap",
    "h2o2": "peroxide",
    "ki": "iodide",
    "table": "bench",
    "rack": "shelf",
    "area": "zone",
    "square": "zone",
}
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_HAND = re.compile(r"\b(left|right)[\s-]*(?:hand|arm|handed)\b")
_VOLUME = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:ml|milliliters?|millilitres?|cc)\b")


@dataclass(frozen=True)
class Mention:
    name: str  # an object or station of the scene
    start: int  # index of its first word in the request
    cue: str  # the word just before it, skipping articles: "into", "of", "to", ...


@dataclass(frozen=True)
class Volume:
    ml: float
    of: str | None  # the object named right after it: "80 ml of peroxide"


def words(text: str) -> list[str]:
    return [SYNONYMS.get(w, w) for w in _WORD.findall(text.lower())]


def hand(text: str) -> str | None:
    m = _HAND.search(text.lower())
    return m.group(1) if m else None


def strip_params(text: str) -> str:
    """The request with its hand phrase dropped and its volumes made vague ("some"): neither says which task
    it is, and numbers only add noise to the embedding."""
    text = re.sub(
        r"\b(?:with|using|use|by)\s+(?:the|your|its)?\s*(?:left|right)[\s-]*(?:hand|arm)\b",
        " ",
        text,
        flags=re.I,
    )
    return " ".join(_VOLUME.sub("some", text.lower()).split())


def _vocabulary(world: WorldState) -> dict[str, set[str]]:
    vocab: dict[str, set[str]] = {}

    def add(word: str, name: str) -> None:
        vocab.setdefault(word, set()).add(name)

    for name, obj in world.objects.items():
        for w in {*name.split("_"), *obj.type.split("_")}:
            add(w, name)
    # A liquid's words name the container holding most of it, so "peroxide" stays the bottle after a pour.
    for liquid in {liq for c in world.containers.values() for liq in c.contents_ml}:
        most = max(world.containers.values(), key=lambda c: c.contents_ml.get(liquid, 0.0))
        for w in liquid.split("_"):
            add(w, most.name)
    for station in world.stations:
        add(station, station)
    return vocab


ARTICLES = {"the", "a", "an", "some", "that", "this", "my"}


def mentions(text: str, world: WorldState) -> list[Mention]:
    """Scene names in the order they are mentioned; adjacent words naming one object count once."""
    vocab = _vocabulary(world)
    ws = words(text)
    found: list[Mention] = []
    for i, w in enumerate(ws):
        names = vocab.get(w) or vocab.get(w.removesuffix("s"), set())
        if len(names) != 1:
            continue
        (name,) = names
        if found and found[-1].name == name and _adjacent(ws, found[-1].start, i, vocab, name):
            continue
        found.append(Mention(name, i, _cue(ws, i)))
    return found


def _adjacent(ws: list[str], start: int, i: int, vocab: dict[str, set[str]], name: str) -> bool:
    # "hydrogen peroxide bottle": every word between names the same object.
    return all(name in vocab.get(w, set()) for w in ws[start:i])


def _cue(ws: list[str], i: int) -> str:
    j = i - 1
    while j >= 0 and ws[j] in ARTICLES:
        j -= 1
    return ws[j] if j >= 0 else ""


def volumes(text: str, world: WorldState) -> list[Volume]:
    """Volumes in ml, each with the object named within the next few words, if any."""
    out = []
    lowered = text.lower()
    for m in _VOLUME.finditer(lowered):
        after = mentions(lowered[m.end() : m.end() + 40], world)
        out.append(Volume(float(m.group(1)), after[0].name if after and after[0].start <= 3 else None))
    return out
