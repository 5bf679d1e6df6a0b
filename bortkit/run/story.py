"""The story of a pipeline run: the headline in words, the miniature table, the key figures.

`build_story(run_root)` reads what the notebooks wrote (each folder's ``summary.json`` and HTML
figures) and the "Bort in miniature" record — ``miniature.json`` in the run folder when the run
made one, else the committed ``benchmarks/results/bort_miniature.json`` (then the story says so,
with its command and date) — into a `Story` record; `bortkit.run.report` renders it at the top
of ``index.html``. Compute → record → render: nothing here writes HTML.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bortkit.agora.miniature import miniature_table
from bortkit.agora.miniature_records import MiniatureResult
from bortkit.records import Record
from bortkit.run import artifacts

logger = logging.getLogger(__name__)

#: The committed headline benchmark (benchmarks/bort_miniature.py writes it).
MINIATURE_RESULTS = (Path(__file__).resolve().parents[2] / "benchmarks" / "results"
                     / "bort_miniature.json")

#: The figures the story shows inline, in order: (notebook, file, caption).
KEY_FIGURES = (
    ("02_fptas", "pareto_2d.html", "The FPTAS's Pareto front (parameters vs error); the chosen "
     "shape is marked."),
    ("03_pretrain", "learning_curves.html", "KD pretraining of the chosen shape (vs plain MLM)."),
    ("05_agora", "rounds.html", "Agora's rounds on the student: dev mistakes, new points by "
     "sampler (mask-and-refill, pool) and the random-source control (use the slider)."),
    ("05_agora", "accuracy.html", "Dev accuracy per Agora round: every θ, the best θ."),
)


@dataclass(frozen=True)
class Figure(Record):
    """A figure the story shows inline: its path relative to the run folder and a caption."""

    path: str
    caption: str


@dataclass(frozen=True)
class Story(Record):
    """What the top of the run's index page says.

    Attributes:
        sentences: the headline, one sentence per finding (stages that did not run say nothing).
        table: the miniature table's rows (header first), cells as text; () when none exists.
        goals: the goals table's rows (header first).
        table_source: where the table comes from ("this run", or the committed benchmark with
            its command and date).
        figures: the key figures found in the run folder, in `KEY_FIGURES` order.
    """

    sentences: tuple[str, ...]
    table: tuple[tuple[str, ...], ...] = ()
    goals: tuple[tuple[str, ...], ...] = ()
    table_source: str = ""
    figures: tuple[Figure, ...] = ()


def _summary(root: Path, name: str) -> dict[str, Any]:
    path = root / name / artifacts.SUMMARY_NAME
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        logger.warning("unreadable %s", path)
        return {}


def _pct(v: Any) -> str:
    return f"{100 * float(v):.1f}%"


def stage_sentences(root: Path) -> list[str]:
    """One sentence per stage that wrote a summary (missing keys: that sentence is skipped)."""
    out: list[str] = []
    writers = {
        "01_profile": lambda s: (
            "Profiling measured {n} models on this CPU (batch {b}, sequence {q})."
            .format(n=s["n_models"], b=s["batch_size"], q=s["seq_len"])),
        "02_fptas": lambda s: (
            "The FPTAS trained {t} of {n} shapes and chose {c} (W = {w:.3g}; front of {f})."
            .format(t=s["n_trained"], n=s["n_space"], c=s["chosen"], w=s["chosen_w"],
                    f=s["front_size"])),
        "03_pretrain": lambda s: (
            "KD pretraining of {a} for {k} steps reached {kd} held-out masked-token accuracy "
            "(teacher {t}).".format(a=s["arch_label"], k=s["steps"], kd=_pct(s["kd_accuracy"]),
                                   t=_pct(s["teacher_accuracy"]))),
        "04_finetune": lambda s: (
            "Fine-tuned on {task}: ".format(task=s["task"]) + ", ".join(
                f"{k} {v:.3f}" for k, v in s["test_accuracy"].items()) + " test accuracy."),
        "05_agora": lambda s: (
            "Agora on the {l} learner: test {a:.3f}, against {g:.3f} for gold-only fine-tuning"
            .format(l=s.get("learner", "text"), a=s["test_accuracy"],
                    g=s["round0_test_accuracy"])
            + (f" and {s['control_test_accuracy']:.3f} for the random-source control"
               if s.get("control_test_accuracy") is not None else "")
            + f" ({s['n_added']} points added over {s['n_rounds']} rounds)."),
    }
    for name, write in writers.items():
        summary = _summary(root, name)
        if not summary:
            continue
        try:
            out.append(write(summary))
        except (KeyError, TypeError, ValueError) as exc:
            logger.info("no headline sentence for %s: %s", name, exc)
    return out


def load_miniature(root: Path, committed: Path = MINIATURE_RESULTS
                   ) -> tuple[MiniatureResult | None, str]:
    """(the miniature result, where it came from): the run's own ``miniature.json``, else the
    committed benchmark record, else (None, "")."""
    own = root / MiniatureResult.file_name
    if own.is_file():
        return MiniatureResult.load(own), "this run"
    if committed.is_file():
        try:
            record = json.loads(committed.read_text())
            result = MiniatureResult.from_dict(record["result"])
        except (KeyError, ValueError, TypeError) as exc:
            logger.warning("unreadable %s: %s", committed, exc)
            return None, ""
        return result, (f"the committed benchmark ({committed.name}: "
                        f"`{record.get('command', '?')}`, {record.get('date_utc', '?')}, load "
                        f"{record.get('load_before', '?')} before), not this run")
    return None, ""


def _rows(markdown: str) -> list[tuple[str, ...]]:
    rows = []
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append(tuple(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


def miniature_sentence(result: MiniatureResult) -> str:
    """The headline claim in words, with each goal's margin."""
    mean, sd, n = result.accuracy("agora")
    speeds = [p.speedup for p in result.latency]
    goals = result.goals()
    missed = [name for name, g in goals.items() if not g["met"]]
    verdict = ("All three goals are met." if not missed
               else "Missed: " + "; ".join(missed) + " (margins in the table).")
    return (f"Bort in miniature: the extracted student "
            f"({result.student_spec.D},{result.student_spec.A},{result.student_spec.H},"
            f"{result.student_spec.I}) has {result.size_ratio:.1%} of the teacher's effective "
            f"parameters, runs {min(speeds):.1f}–{max(speeds):.1f}× faster on this CPU, and "
            f"reaches {mean:.3f} ± {sd:.3f} test accuracy over {n} seeds against the "
            f"teacher's {result.teacher_test_accuracy:.3f}. {verdict}")


def build_story(run_root: str | Path, *, committed: Path = MINIATURE_RESULTS) -> Story:
    """The `Story` of the run folder `run_root` (see the module doc)."""
    root = Path(run_root)
    sentences = []
    result, source = load_miniature(root, committed)
    table: tuple[tuple[str, ...], ...] = ()
    goals: tuple[tuple[str, ...], ...] = ()
    if result is not None:
        sentences.append(miniature_sentence(result))
        text = miniature_table(result)
        head, _, tail = text.partition("\n\n")
        table, goals = tuple(_rows(head)), tuple(_rows(tail))
    sentences += stage_sentences(root)
    figures = tuple(Figure(f"{nb}/{name}", caption) for nb, name, caption in KEY_FIGURES
                    if (root / nb / name).is_file())
    return Story(tuple(sentences), table, goals, source, figures)


__all__ = [
    "KEY_FIGURES",
    "MINIATURE_RESULTS",
    "Figure",
    "Story",
    "build_story",
    "load_miniature",
    "miniature_sentence",
    "stage_sentences",
]
