"""Manipulation tasks as data: an instruction, the expert's skill calls, the scene, its variation, a success
predicate. One YAML file per task here; ``load_task`` / ``all_tasks`` read them. Imports envs and skills."""

from skills.tasks.schema import TaskError, TaskSpec, all_tasks, load_task, task_names

__all__ = ["TaskError", "TaskSpec", "all_tasks", "load_task", "task_names"]
