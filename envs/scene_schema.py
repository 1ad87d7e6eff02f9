"""Scene files: the pydantic schema and the loader that turns a bad file into a readable error."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from envs.validation import format_validation_error, read_yaml_mapping

SCENES_DIR = Path(__file__).parent / "scenes"

Range = float | tuple[float, float]


class SceneError(ValueError):
    """A scene file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectType(StrEnum):
    """What an object is; decides whether it is free, fixed, graspable, or holds liquid."""

    BLOCK = "block"
    BOTTLE = "bottle"
    FLASK = "flask"
    GRADUATED_CYLINDER = "graduated_cylinder"
    CUP = "cup"
    TRAY = "tray"
    ZONE = "zone"


FIXED_TYPES = frozenset({ObjectType.TRAY, ObjectType.ZONE})
CONTAINER_TYPES = frozenset(
    {ObjectType.BOTTLE, ObjectType.FLASK, ObjectType.GRADUATED_CYLINDER, ObjectType.CUP}
)


def _check_range(v: Range, field: str) -> Range:
    if isinstance(v, tuple) and v[0] > v[1]:
        raise ValueError(f"{field} range [{v[0]}, {v[1]}] has min > max")
    return v


class PoseRange(_Strict):
    """A pose on a station's table, in the station frame (x forward from where the robot stands, metres).

    Each value is a number or a [min, max] range sampled uniformly per seed; yaw is in degrees.
    """

    x: Range
    y: Range
    yaw: Range = 0.0

    @field_validator("x", "y", "yaw")
    @classmethod
    def _ordered(cls, v: Range, info) -> Range:
        return _check_range(v, info.field_name)


class KneeSpace(_Strict):
    """Room under the table's front for a walker's knees: the base is set back ``depth`` from the robot's
    side up to ``height``, where the top (an apron down to there) begins."""

    depth: Annotated[float, Field(gt=0)]
    height: Annotated[float, Field(gt=0)]


class TableConfig(_Strict):
    center: tuple[float, float] = Field(description="table centre in the station frame (m)")
    size: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = Field(
        description="x, y extent (m)"
    )
    height: Annotated[float, Field(gt=0.3, lt=1.5)] = 0.80
    rgba: tuple[float, float, float, float] = (0.55, 0.42, 0.30, 1.0)
    mass: Annotated[float, Field(gt=0)] = 20.0
    knee_space: KneeSpace | None = None

    @model_validator(mode="after")
    def _knee_space_fits(self) -> TableConfig:
        k = self.knee_space
        if k is not None and (k.depth >= self.size[0] or k.height >= self.height):
            raise ValueError(
                f"knee_space (depth {k.depth}, height {k.height}) must fit under the table "
                f"(depth {self.size[0]}, height {self.height})"
            )
        return self


class Station(_Strict):
    """A place to work: where the robot stands (x, y, yaw in degrees) and the table in front of it."""

    robot_pose: tuple[float, float, float]
    table: TableConfig
    description: str = ""


class ContainerConfig(_Strict):
    capacity_ml: Annotated[float, Field(gt=0)]
    contents: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits(self) -> ContainerConfig:
        total = sum(self.contents.values())
        if total > self.capacity_ml:
            raise ValueError(f"contents total {total} ml exceed capacity_ml {self.capacity_ml}")
        return self


class ObjectConfig(_Strict):
    """One object. Size is half-extents for boxes and zones, [radius, half_height] for cylinders."""

    type: ObjectType
    shape: Literal["box", "cylinder"] = "box"
    size: tuple[Annotated[float, Field(gt=0)], ...]
    mass: Annotated[float, Field(gt=0)] = Field(
        default=0.1,
        description="kg; a container's as loaded with its contents (then its liquid's weight follows pours)",
    )
    rgba: tuple[float, float, float, float] = (0.6, 0.6, 0.6, 1.0)
    station: str | None = None
    in_tray: str | None = Field(default=None, description="name of a tray this object stands in")
    pose: PoseRange | None = None
    friction: Annotated[float, Field(gt=0)] = 1.0
    container: ContainerConfig | None = None
    label: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ObjectConfig:
        want = 2 if self.shape == "cylinder" or self.type == ObjectType.ZONE else 3
        if len(self.size) != want:
            raise ValueError(
                f"size needs {want} numbers for a {self.shape} {self.type.value}, got {len(self.size)}"
            )
        if (self.station is None) == (self.in_tray is None):
            raise ValueError("give exactly one of 'station' (with 'pose') or 'in_tray'")
        if self.station is not None and self.pose is None:
            raise ValueError("an object placed at a station needs a 'pose'")
        if self.container is not None and self.type not in CONTAINER_TYPES:
            raise ValueError(
                f"a {self.type.value} cannot hold liquid; containers are {sorted(CONTAINER_TYPES)}"
            )
        if self.type in CONTAINER_TYPES and self.container is None:
            raise ValueError(f"a {self.type.value} needs a 'container' section (capacity_ml, contents)")
        return self


class RobotConfig(_Strict):
    model: Literal["unitree_g1_with_hands"] = "unitree_g1_with_hands"
    base: Literal["holonomic", "floating"] = Field(
        default="holonomic",
        description="holonomic: planar base joints with the legs held in stance (embedded default); "
        "floating: a free-standing G1 balancing on its own feet",
    )
    locomotion: str | None = Field(
        default=None,
        description="what moves the base by default: holonomic | walker[:PATH] (the --locomotion flag wins)",
    )
    start_station: str

    @field_validator("locomotion")
    @classmethod
    def _locomotion(cls, v: str | None) -> str | None:
        if v is not None:
            from envs.locomotion.config import parse_locomotion

            parse_locomotion(v)
        return v


class SceneConfig(_Strict):
    name: str
    description: str = ""
    robot: RobotConfig
    stations: dict[str, Station]
    objects: dict[str, ObjectConfig]

    @model_validator(mode="after")
    def _references(self) -> SceneConfig:
        # Messages start with the field's dotted path: a whole-model error carries no location of its own.
        stations = ", ".join(sorted(self.stations))
        if self.robot.start_station not in self.stations:
            raise ValueError(
                f"robot.start_station: '{self.robot.start_station}' is not a station of this scene; "
                f"expected one of: {stations}"
            )
        for name, obj in self.objects.items():
            if obj.station is not None and obj.station not in self.stations:
                raise ValueError(
                    f"objects.{name}.station: '{obj.station}' is not a station of this scene; "
                    f"expected one of: {stations}"
                )
            if obj.in_tray is not None:
                base = self.objects.get(obj.in_tray)
                if base is None or base.type != ObjectType.TRAY:
                    trays = ", ".join(n for n, o in self.objects.items() if o.type == ObjectType.TRAY)
                    trays = trays or "none"
                    raise ValueError(
                        f"objects.{name}.in_tray: '{obj.in_tray}' is not a tray of this scene; trays: {trays}"
                    )
        clash = set(self.objects) & set(self.stations)
        if clash:
            raise ValueError(f"objects: names used for both a station and an object: {sorted(clash)}")
        return self

    def station_of(self, name: str) -> str:
        """The station an object starts at (following 'in_tray' to its tray)."""
        obj = self.objects[name]
        return obj.station if obj.station is not None else self.station_of(obj.in_tray)  # type: ignore[arg-type]

    @property
    def containers(self) -> dict[str, ObjectConfig]:
        return {n: o for n, o in self.objects.items() if o.container is not None}


def resolve_scene_path(scene: str | Path) -> Path:
    """A scene name shipped with Tandem (``g1_lab``) or a path to a YAML file."""
    path = Path(scene)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return path
    shipped = SCENES_DIR / f"{scene}.yaml"
    if shipped.exists():
        return shipped
    names = sorted(p.stem for p in SCENES_DIR.glob("*.yaml"))
    raise SceneError(f"unknown scene '{scene}': not a file, and not a shipped scene ({', '.join(names)})")


def load_scene(scene: str | Path) -> SceneConfig:
    """Read and validate a scene file; raise SceneError naming the file, the field and what was expected."""
    path = resolve_scene_path(scene)
    raw = read_yaml_mapping(path, SceneError, "scene")
    raw.setdefault("name", path.stem)
    try:
        cfg = SceneConfig.model_validate(raw)
    except ValidationError as e:
        detail = format_validation_error(e).replace("(top level): ", "")  # those messages name their field
        raise SceneError(f"{path}: invalid scene\n{detail}") from None
    from envs.chemistry.rules import load_rules  # local: chemistry owns the liquid catalogue

    known = load_rules().liquids
    for name, obj in cfg.containers.items():
        assert obj.container is not None
        for liquid in obj.container.contents:
            if liquid not in known:
                raise SceneError(
                    f"{path}: invalid scene\n  objects.{name}.container.contents.{liquid}: "
                    f"unknown liquid; known liquids are {sorted(known)}"
                )
    return cfg


def sample(value: Range, rng) -> float:
    """One draw from a number-or-range pose field."""
    if isinstance(value, tuple):
        return float(rng.uniform(value[0], value[1]))
    return float(value)
