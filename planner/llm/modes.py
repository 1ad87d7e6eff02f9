"""Output modes and the plan schema the model fills in.

The model writes the wire shape of planner/schema.py in every mode:

    {"reason": str, "steps": [{"id": str, "skill": str, "args": {...}, "after": [str, ...]}],
     "goal": [{"predicate": str, "params": {...}}]}

- ``json_schema``: ``response_format`` with a strict JSON schema (every field required, no extra fields);
- ``tools``: one forced tool, ``submit_plan``, whose parameters are that schema;
- ``json``: no constraint on the server; the JSON object is read from the text (code fences tolerated).

The schema is built from the skill registry and the scene: one step variant per registered skill, its
``skill`` fixed to that name and its argument names restricted to the scene's names (enums). Strict mode
needs every property required, so an argument with a default is ``X or null`` (null: the default).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from typing import Any, get_type_hints

from envs.predicates import get_predicate, predicate_names
from skills.registry import all_skills, skill_schema
from skills.spec import SceneNames

TOOL = "submit_plan"
_DROP = {"title", "default"}


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic argument schema made strict-mode compatible (all required, optional -> nullable)."""
    props = {}
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        p = {k: v for k, v in prop.items() if k not in _DROP}
        if name not in required:
            default = prop.get("default")
            p = {"anyOf": [p, {"type": "null"}], "description": f"null for the default ({default})"}
        props[name] = p
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def plan_schema(scene: SceneNames | None) -> dict[str, Any]:
    """The JSON schema of a plan for this scene (strict-mode compatible)."""
    variants = []
    for spec in all_skills():
        args = _strict(skill_schema(spec, scene)["parameters"])
        variants.append(
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "unique step id, e.g. s1"},
                    "skill": {"type": "string", "enum": [spec.name]},
                    "args": args,
                    "after": {"type": "array", "items": {"type": "string"}, "description": "step ids"},
                },
                "required": ["id", "skill", "args", "after"],
                "additionalProperties": False,
            }
        )
    return {
        "type": "object",
        "properties": {
            "reason": {
                "type": "string",
                "description": "why the plan reaches the goal; or QUESTION:/GIVE UP:",
            },
            "steps": {"type": "array", "items": {"anyOf": variants}},
            "goal": {
                "type": "array",
                "items": {"anyOf": goal_variants(scene)},
                "description": "world-state predicates that hold once the request is done",
            },
        },
        "required": ["reason", "steps", "goal"],
        "additionalProperties": False,
    }


_JSON_TYPES = {str: "string", float: "number", int: "number"}
# Predicate parameters that name something in the scene: an enum of those names.
_SCENE_KINDS = {"object": "objects", "container": "containers", "station": "stations"}


def goal_variants(scene: SceneNames | None) -> list[dict[str, Any]]:
    """One strict-mode variant per registered predicate (envs/predicates.py), from its signature."""
    out = []
    for name in predicate_names():
        props: dict[str, Any] = {}
        fn = get_predicate(name)
        hints = get_type_hints(fn)
        for pname, param in list(inspect.signature(fn).parameters.items())[1:]:
            ann = hints.get(pname, str)
            base = next((t for t in (str, float, int) if ann is t or t in getattr(ann, "__args__", ())), str)
            prop: dict[str, Any] = {"type": _JSON_TYPES[base]}
            kind = _SCENE_KINDS.get(pname)
            if pname == "zone" and scene is not None:
                prop["enum"] = sorted(n for n, t in scene.objects.items() if t == "zone")
            elif kind and scene is not None:
                prop["enum"] = scene.names_of(kind)
            if param.default is not inspect.Parameter.empty:
                prop = {"anyOf": [prop, {"type": "null"}], "description": f"null for {param.default}"}
            props[pname] = prop
        out.append(
            {
                "type": "object",
                "properties": {
                    "predicate": {"type": "string", "enum": [name]},
                    "params": {
                        "type": "object",
                        "properties": props,
                        "required": list(props),
                        "additionalProperties": False,
                    },
                },
                "required": ["predicate", "params"],
                "additionalProperties": False,
            }
        )
    return out


INSTRUCTIONS = {
    "json_schema": "Answer with the plan as a JSON object; the response format enforces its schema.",
    "tools": f"Answer by calling the tool `{TOOL}` once, with the plan as its arguments. No other text.",
    "json": "Answer with only the plan as one JSON object in the wire shape above: no prose, no code "
    "fences, no comments.",
}


def request_body(
    mode: str,
    model: str,
    messages: list[dict[str, Any]],
    schema: dict[str, Any],
    temperature: float,
    max_tokens: int,
) -> dict[str, Any]:
    """The chat-completions request for a mode (what the client sends and what the record keeps)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }
    if mode == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "plan", "strict": True, "schema": schema},
        }
    elif mode == "tools":
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": TOOL,
                    "description": "Submit the plan: registered skills only, arguments as in their schemas.",
                    "parameters": schema,
                    "strict": True,
                },
            }
        ]
        body["tool_choice"] = {"type": "function", "function": {"name": TOOL}}
    return body


@dataclass
class Answer:
    """What a reply said: the text carrying the plan, and what to send back for a repair."""

    text: str | None
    finish_reason: str | None
    assistant: dict[str, Any]  # the assistant message, to put back into the conversation
    tool_call_id: str | None = None


def read_reply(mode: str, response: dict[str, Any]) -> Answer:
    """The plan text of a chat-completions response (a dict), whichever way the model put it."""
    choices = response.get("choices") or []
    if not choices:
        return Answer(None, None, {"role": "assistant", "content": ""})
    choice = choices[0]
    msg = choice.get("message") or {}
    finish = choice.get("finish_reason")
    calls = msg.get("tool_calls") or []
    if calls:
        call = calls[0]
        fn = call.get("function") or {}
        assistant = {
            "role": "assistant",
            "content": msg.get("content"),
            "tool_calls": [
                {
                    "id": call.get("id"),
                    "type": "function",
                    "function": {"name": fn.get("name"), "arguments": fn.get("arguments")},
                }
            ],
        }
        return Answer(fn.get("arguments"), finish, assistant, call.get("id"))
    content = msg.get("content")
    return Answer(content, finish, {"role": "assistant", "content": content or ""})


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)


def parse_json(text: str) -> Any:
    """The JSON object in a reply: bare, in a code fence, or between the first '{' and the last '}'."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        for block in _FENCE.findall(text):
            try:
                return json.loads(block)
            except json.JSONDecodeError:
                pass
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(
            f"the reply is not valid JSON ({first.msg} at line {first.lineno} column {first.colno})"
        ) from None


def normalize(data: Any) -> Any:
    """Null arguments mean 'the default' (strict schemas make every argument required): drop them."""
    if isinstance(data, dict) and isinstance(data.get("steps"), list):
        for step in data["steps"]:
            if isinstance(step, dict) and isinstance(step.get("args"), dict):
                step["args"] = {k: v for k, v in step["args"].items() if v is not None}
            if isinstance(step, dict) and step.get("after") is None:
                step.pop("after", None)
    if isinstance(data, dict) and isinstance(data.get("goal"), list):
        for g in data["goal"]:
            if isinstance(g, dict) and isinstance(g.get("params"), dict):
                g["params"] = {k: v for k, v in g["params"].items() if v is not None}
    if isinstance(data, dict) and data.get("goal") is None:
        data.pop("goal", None)
    return data
