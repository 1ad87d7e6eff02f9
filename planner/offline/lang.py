"""The recipes' tiny language: values, functions and conditions over the symbolic state.

A value in a recipe is a literal (``flask``, ``60``), a parameter (``$object``) or one call of a known
function on such arguments (``station_of($object)``, no nesting). A condition is one known name with its
arguments (``{robot_at: $station}``, ``{contains: {container: $flask, liquid: dish_soap, min_ml: 10}}``).
Both are parsed when a recipe file loads, so a typo fails there and not halfway through a plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from skills.library.pour import tolerance_ml
from skills.symbolic import HANDS, SymbolicState

_CALL = re.compile(r"^(\w+)\((.*)\)$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


class ExpansionError(ValueError):
    """A recipe cannot be expanded in this state (e.g. an object that is at no station)."""


@dataclass(frozen=True)
class Ref:
    param: str


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Ref | str | float, ...]


Value = Ref | Call | str | float | int | bool


@dataclass
class Scope:
    """What values are evaluated against: the bound parameters, the evolving symbolic state, and each
    object's lateral offset in its station's frame (y > 0: the robot's left) and the hands found unable to
    reach it, for choosing a hand."""

    params: Mapping[str, Any]
    state: SymbolicState | None = None
    lateral: Mapping[str, float] | None = None
    avoid: Mapping[str, set[str]] | None = None


def _station_of(s: Scope, name: str) -> str | None:
    st = _need_state(s)
    if st.hand_of(name) is not None:
        return st.robot_station
    return st.object_station.get(name) or st.station_of_location(name)


def _pick_hand(s: Scope, obj: str, preferred: str) -> str:
    # The named hand, or by reach when `auto` (an object on the robot's left goes to the left hand);
    # when that hand is busy, or found unable to reach the object, the other one, if free.
    st = _need_state(s)
    want = preferred if preferred in HANDS else ("left" if (s.lateral or {}).get(obj, 0.0) > 0 else "right")
    other = "right" if want == "left" else "left"
    cannot = (s.avoid or {}).get(obj, set())
    if want in cannot and other not in cannot and not st.holding.get(other):
        return other
    return other if st.holding.get(want) and not st.holding.get(other) else want


def _have_ml(st: SymbolicState, container: str, liquid: str) -> float:
    return st.contents_ml.get(container, {}).get(liquid, 0.0)


def _missing_ml(s: Scope, container: str, liquid: str, want: float) -> float:
    return round(max(0.0, float(want) - _have_ml(_need_state(s), container, liquid)), 1)


def _liquid_of(s: Scope, container: str) -> str | None:
    contents = {k: v for k, v in _need_state(s).contents_ml.get(container, {}).items() if v > 0}
    return max(contents, key=contents.__getitem__) if contents else None


def _need_state(s: Scope) -> SymbolicState:
    if s.state is None:
        raise ExpansionError("this function reads the symbolic state, which goals do not have")
    return s.state


# name -> (arity, function, reads the state); goals may only use functions that do not read the state.
FUNCTIONS: dict[str, tuple[int, Callable[..., Any], bool]] = {
    "station_of": (1, _station_of, True),
    "held_by": (1, lambda s, hand: _need_state(s).holding.get(hand), True),
    "hand_of": (1, lambda s, obj: _need_state(s).hand_of(obj), True),
    "pick_hand": (2, _pick_hand, True),
    "missing_ml": (3, _missing_ml, True),
    "liquid_of": (1, _liquid_of, True),
    # The bounds a pour of v ml is judged successful within: goals accept what the pour skill accepts.
    "low": (1, lambda s, v: round(float(v) - tolerance_ml(float(v)), 1), False),
    "high": (1, lambda s, v: round(float(v) + tolerance_ml(float(v)), 1), False),
}


def parse_value(raw: Any) -> Value:
    """A YAML scalar as a Value; raises ValueError naming what is wrong."""
    if not isinstance(raw, str):
        if isinstance(raw, int | float | bool):
            return raw
        raise ValueError(f"expected a number, a name, $param or fn(args), got {type(raw).__name__}")
    if raw.startswith("$"):
        return _ref(raw)
    m = _CALL.match(raw.strip())
    if m is None:
        return raw
    fn, inner = m.group(1), m.group(2)
    if fn not in FUNCTIONS:
        raise ValueError(f"unknown function '{fn}'; functions: {', '.join(sorted(FUNCTIONS))}")
    args = tuple(_arg(a.strip()) for a in inner.split(",")) if inner.strip() else ()
    if len(args) != FUNCTIONS[fn][0]:
        raise ValueError(f"{fn}() takes {FUNCTIONS[fn][0]} argument(s), got {len(args)}")
    return Call(fn, args)


def _ref(raw: str) -> Ref:
    if not _NAME.match(raw[1:]):
        raise ValueError(f"'{raw}' is not a parameter reference ($ followed by a name)")
    return Ref(raw[1:])


def _arg(raw: str) -> Ref | str | float:
    if raw.startswith("$"):
        return _ref(raw)
    try:
        return float(raw)
    except ValueError:
        pass
    if not _NAME.match(raw):
        raise ValueError(f"function argument '{raw}' is neither $param, a name nor a number")
    return raw


def refs(v: Value) -> set[str]:
    """The parameters a value reads."""
    if isinstance(v, Ref):
        return {v.param}
    if isinstance(v, Call):
        return {a.param for a in v.args if isinstance(a, Ref)}
    return set()


def reads_state(v: Value) -> bool:
    return isinstance(v, Call) and FUNCTIONS[v.fn][2]


def evaluate(v: Value, scope: Scope) -> Any:
    if isinstance(v, Ref):
        return scope.params[v.param]
    if isinstance(v, Call):
        args = [scope.params[a.param] if isinstance(a, Ref) else a for a in v.args]
        if any(a is None for a in args):
            return None
        return FUNCTIONS[v.fn][1](scope, *args)
    return v


# ----------------------------------------------------------------- conditions


def _contains(st: SymbolicState, container: str, liquid: str, min_ml: float) -> bool:
    # Within the pour skill's tolerance: a pour judged successful is not poured again.
    return _have_ml(st, container, liquid) + tolerance_ml(float(min_ml)) >= float(min_ml)


def _hand_test(free: bool) -> Callable[[SymbolicState, str], bool]:
    def test(st: SymbolicState, hand: str) -> bool:
        hands = HANDS if hand == "any" else (hand,)
        return any((st.holding.get(h) is None) == free for h in hands)

    return test


# name -> (argument names, test taking them in that order); one argument may be written {name: value}.
CONDITIONS: dict[str, tuple[tuple[str, ...], Callable[..., bool]]] = {
    "robot_at": (("station",), lambda st, station: st.robot_station == station),
    "holding": (("object",), lambda st, obj: st.hand_of(obj) is not None),
    "hand_free": (("hand",), _hand_test(True)),
    "hand_busy": (("hand",), _hand_test(False)),
    "at_station": (("object", "station"), lambda st, obj, station: st.object_station.get(obj) == station),
    "contains": (("container", "liquid", "min_ml"), _contains),
}


@dataclass(frozen=True)
class Condition:
    name: str
    args: dict[str, Value]

    def holds(self, scope: Scope) -> bool:
        keys, test = CONDITIONS[self.name]
        return test(_need_state(scope), *(evaluate(self.args[k], scope) for k in keys))


def parse_condition(raw: Any) -> Condition:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ValueError(f"a condition is a mapping with one key, one of: {', '.join(sorted(CONDITIONS))}")
    ((name, body),) = raw.items()
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition '{name}'; conditions: {', '.join(sorted(CONDITIONS))}")
    keys = CONDITIONS[name][0]
    if not isinstance(body, dict):
        if len(keys) != 1:
            raise ValueError(f"condition '{name}' takes a mapping with keys {', '.join(keys)}")
        body = {keys[0]: body}
    if set(body) != set(keys):
        raise ValueError(f"condition '{name}' takes keys {', '.join(keys)}, got {', '.join(map(str, body))}")
    args = {k: parse_value(v) for k, v in body.items()}
    hand = args.get("hand")
    if isinstance(hand, str) and hand not in (*HANDS, "any"):
        raise ValueError(f"condition '{name}': hand is left, right or any, got '{hand}'")
    return Condition(name, args)
