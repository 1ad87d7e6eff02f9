"""The symbolic view of the world used for plan validation and the offline planner.

Facts that matter for sequencing skills: where the robot stands, what each hand holds, where each
object is (a station, or a hand), and what each container holds. Built from a WorldState, or from a
scene at its start; skills' preconditions read it and their effects update a copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from envs.base import WorldState

HANDS = ("left", "right")


@dataclass
class SymbolicState:
    robot_station: str | None
    holding: dict[str, str | None]  # hand -> object
    object_station: dict[str, str | None]  # object -> station it is at (None while carried)
    contents_ml: dict[str, dict[str, float]] = field(default_factory=dict)
    stations: tuple[str, ...] = ()
    zones: dict[str, str] = field(default_factory=dict)  # zone or tray -> its station
    object_types: dict[str, str] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()

    @classmethod
    def from_world(cls, world: WorldState) -> SymbolicState:
        fixed = {"zone", "tray"}
        return cls(
            robot_station=world.robot.station,
            holding=dict(world.robot.holding),
            object_station={
                n: (None if o.held_by else o.station) for n, o in world.objects.items() if o.type not in fixed
            },
            contents_ml={n: dict(c.contents_ml) for n, c in world.containers.items()},
            stations=tuple(world.stations),
            zones={n: o.station for n, o in world.objects.items() if o.type in fixed and o.station},
            object_types={n: o.type for n, o in world.objects.items()},
        )

    def copy(self) -> SymbolicState:
        return copy.deepcopy(self)

    def hand_of(self, obj: str) -> str | None:
        return next((h for h, o in self.holding.items() if o == obj), None)

    def station_of_location(self, location: str) -> str | None:
        if location in self.stations:
            return location
        return self.zones.get(location)
