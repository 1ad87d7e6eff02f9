"""Demonstration datasets: LeRobot v2.1 files with GR00T's meta/modality.json (docs/datasets.md).

format (layout, features), writer (atomic episodes, resumable), recorder (samples a Runtime at the policy
rate), collect (the expert over tasks and seeds, in worker processes), reader / check / view / edit
(split, merge) / replay for `tandem dataset`.
"""
