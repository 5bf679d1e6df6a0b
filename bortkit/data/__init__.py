"""Data: offline labelled tasks with seeded stratified splits, users' own files, the unlabelled
pretraining corpus, and checksums of every builtin source.
"""

from __future__ import annotations

from bortkit.data.corpus import Corpus, build_corpus
from bortkit.data.tables import SPLIT_FRACTIONS, SPLITS, split_dataset
from bortkit.data.tasks import (
    DATA_VERSION,
    TASK_INFO,
    TASKS,
    TaskSummary,
    check_task_name,
    load_task,
    load_task_and_report,
    summarize_task,
)

__all__ = [
    "Corpus",
    "DATA_VERSION",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TASKS",
    "TASK_INFO",
    "TaskSummary",
    "build_corpus",
    "check_task_name",
    "load_task",
    "load_task_and_report",
    "split_dataset",
    "summarize_task",
]
