"""World-state predicates: named checks over a WorldState, used by recipe goals and eval suites.

A small registry, extensible without touching its users: ``@predicate("name")`` on a function
``(world, **params) -> (ok, detail)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from envs.base import WorldState

PredicateFn = Callable[..., tuple[bool, str]]
_PREDICATES: dict[str, PredicateFn] = {}


def predicate(name: str) -> Callable[[PredicateFn], PredicateFn]:
    def register(fn: PredicateFn) -> PredicateFn:
        _PREDICATES[name] = fn
        return fn

    return register


def get_predicate(name: str) -> PredicateFn:
    if name not in _PREDICATES:
        raise KeyError(f"unknown predicate '{name}'; predicates: {', '.join(sorted(_PREDICATES))}")
    return _PREDICATES[name]


def _takes_start(fn: PredicateFn) -> bool:
    return "start" in inspect.signature(fn).parameters


def check_params(name: str, params: dict[str, Any]) -> None:
    """Raise ValueError when ``params`` do not fit the predicate's signature."""
    fn = get_predicate(name)
    sig = inspect.signature(fn)
    try:
        sig.bind(None, **params, **({"start": None} if _takes_start(fn) else {}))
    except TypeError as e:
        wanted = ", ".join(p for p in list(sig.parameters)[1:])
        raise ValueError(f"predicate '{name}': {e}; it takes: {wanted}") from None


def evaluate(
    world: WorldState, name: str, params: dict[str, Any], start: WorldState | None = None
) -> tuple[bool, str]:
    """``start``: the world when the episode began, for predicates about change (they take ``start``)."""
    fn = get_predicate(name)
    if _takes_start(fn):
        if start is None:
            raise ValueError(f"predicate '{name}' compares with the start of the episode: give start=")
        return fn(world, **params, start=start)
    return fn(world, **params)


def _obj(world: WorldState, name: str):
    if name not in world.objects:
        raise KeyError(f"unknown object '{name}' in predicate")
    return world.objects[name]


@predicate("object_in_zone")
def object_in_zone(world: WorldState, object: str, zone: str) -> tuple[bool, str]:
    o = _obj(world, object)
    return o.in_zone == zone and o.held_by is None, f"{object} in zone {o.in_zone}, held by {o.held_by}"


@predicate("object_at_station")
def object_at_station(world: WorldState, object: str, station: str) -> tuple[bool, str]:
    o = _obj(world, object)
    return o.station == station and o.held_by is None, f"{object} at {o.station}, held by {o.held_by}"


@predicate("object_held")
def object_held(world: WorldState, object: str, hand: str | None = None) -> tuple[bool, str]:
    o = _obj(world, object)
    ok = o.held_by is not None and (hand is None or o.held_by == hand)
    return ok, f"{object} held by {o.held_by}"


@predicate("container_holds")
def container_holds(
    world: WorldState, container: str, liquid: str, min_ml: float = 0.0, max_ml: float = float("inf")
) -> tuple[bool, str]:
    c = world.containers.get(container)
    if c is None:
        raise KeyError(f"unknown container '{container}' in predicate")
    got = c.contents_ml.get(liquid, 0.0)
    return min_ml <= got <= max_ml, f"{container} holds {got:.1f} ml of {liquid}"


@predicate("container_received")
def container_received(
    world: WorldState, container: str, min_ml: float = 0.0, max_ml: float = float("inf")
) -> tuple[bool, str]:
    c = world.containers.get(container)
    if c is None:
        raise KeyError(f"unknown container '{container}' in predicate")
    return min_ml <= c.received_ml <= max_ml, f"{container} received {c.received_ml:.1f} ml"


@predicate("reaction_fired")
def reaction_fired(world: WorldState, container: str, reaction: str | None = None) -> tuple[bool, str]:
    fired = [r.reaction for r in world.reactions if r.container == container]
    ok = bool(fired) and (reaction is None or reaction in fired)
    return ok, f"reactions in {container}: {fired or 'none'}"


@predicate("spill_below")
def spill_below(world: WorldState, ml: float) -> tuple[bool, str]:
    return world.spilled_ml < ml, f"spilled {world.spilled_ml:.1f} ml"


@predicate("robot_at")
def robot_at(world: WorldState, station: str) -> tuple[bool, str]:
    return world.robot.station == station, f"robot at {world.robot.station}"


@predicate("object_on")
def object_on(world: WorldState, object: str, target: str, tol_m: float = 0.04) -> tuple[bool, str]:
    """The object rests on ``target`` (a tray, say): its centre within ``tol_m`` of the target's, above it,
    and not held."""
    o, t = _obj(world, object), _obj(world, target)
    dist = ((o.pos[0] - t.pos[0]) ** 2 + (o.pos[1] - t.pos[1]) ** 2) ** 0.5
    ok = dist <= tol_m and o.pos[2] > t.pos[2] and o.held_by is None
    return ok, f"{object} {dist * 100:.1f} cm from the centre of {target}, held by {o.held_by}"


@predicate("object_upright")
def object_upright(world: WorldState, object: str, max_tilt_deg: float = 20.0) -> tuple[bool, str]:
    o = _obj(world, object)
    return o.tilt_deg <= max_tilt_deg, f"{object} tilted {o.tilt_deg:.1f} deg"


@predicate("object_moved")
def object_moved(world: WorldState, object: str, start: WorldState, min_m: float = 0.03) -> tuple[bool, str]:
    """The object ends at least ``min_m`` (in the plane) from where it stood in ``start``."""
    o, s = _obj(world, object), _obj(start, object)
    d = ((o.pos[0] - s.pos[0]) ** 2 + (o.pos[1] - s.pos[1]) ** 2) ** 0.5
    return d >= min_m, f"{object} moved {d * 100:.1f} cm"
