"""bortkit.run.story and bortkit.run.report: the run's index page tells the story — the headline
in words and in the miniature table, the key figures inline, then each stage — and renders in
headless Chromium (screenshot to a temp dir; docs/img/report.png only with BORTKIT_UPDATE_DOCS=1).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from bortkit.agora.miniature_records import ArmRun, LatencyPair, MiniatureConfig, MiniatureResult
from bortkit.arch import ArchSpec, count_params
from bortkit.run import report, story

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"


def _miniature() -> MiniatureResult:
    teacher, student = ArchSpec(6, 12, 384, 1536), ArchSpec(2, 4, 128, 512)
    arms = tuple(ArmRun(arm, s, acc + 0.01 * s, 1, 100, 300)
                 for arm, acc in (("agora", 0.775), ("no-agora", 0.72), ("control", 0.73),
                                  ("no-kd", 0.70)) for s in range(3))
    return MiniatureResult(
        config=MiniatureConfig.smoke(), teacher_spec=teacher, student_spec=student,
        teacher_effective=count_params(teacher).effective,
        student_effective=count_params(student).effective,
        latency=(LatencyPair(1, 64, 8.0, 1.0), LatencyPair(32, 128, 400.0, 50.0)),
        teacher_test_accuracy=0.78, labeller_dev_accuracy=0.78, arms=arms, pretrain={},
        seconds={"total": 1.0})


def _figures(root: Path) -> None:
    """The key figures, drawn by bortkit's own figure functions from small real records: the
    FPTAS front (synthetic evaluator), a learning curve, Agora's rounds (torus toy)."""
    from bortkit import embed
    from bortkit.agora import torus
    from bortkit.plots import agora as agora_plots
    from bortkit.plots import pareto as pareto_plots
    from bortkit.plots import training
    from bortkit.pretrain.records import LearningCurve
    from bortkit.run import artifacts
    from bortkit.search import fptas
    from bortkit.search.config import FptasConfig
    from bortkit.search.evaluation import SyntheticEvaluator
    from bortkit.search.space import SearchSpace

    front = fptas.search(SearchSpace.cpu_default(), FptasConfig(epsilon=0.25, steps=30),
                         evaluator=SyntheticEvaluator(), progress=False)
    artifacts.save_figure(pareto_plots.pareto_2d_figure(front),
                          root / "02_fptas" / "pareto_2d.html")
    steps = tuple(range(0, 300, 10))
    curve = LearningCurve(steps=steps, train_loss=tuple(7 - 2 * (s / 300) for s in steps),
                          train_mlm=tuple(7 - 2 * (s / 300) for s in steps),
                          train_kd=tuple(3 - (s / 300) for s in steps),
                          seconds=tuple(0.1 * s for s in steps))
    artifacts.save_figure(training.training_figure({"KD": curve}, metrics=("train_mlm",)),
                          root / "03_pretrain" / "learning_curves.html")
    run = torus.run_torus(torus.TorusConfig.smoke(), seed=0)
    proj = embed.project_rounds(run.result, run.data.dev_x,
                                projector=embed.Projector(method="pca"))
    artifacts.save_figure(agora_plots.rounds_figure(run.result, proj),
                          root / "05_agora" / "rounds.html")


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("figures")
    _figures(folder)
    return folder


@pytest.fixture
def run_root(tmp_path, figures) -> Path:
    """A pipeline run folder as the notebooks leave it (summaries, figures, run.json)."""
    root = tmp_path / "runs" / "20261130-000000"
    shutil.copytree(figures, root)
    summaries = {
        "02_fptas": dict(n_trained=13, n_space=81, chosen="D2-A4-H128-I512", chosen_w=0.8,
                         front_size=6),
        "03_pretrain": dict(arch_label="D2-A4-H128-I512", steps=300, kd_accuracy=0.21,
                            teacher_accuracy=0.33),
        "04_finetune": dict(task="rt", test_accuracy={"minilm": 0.79, "pretrained": 0.71}),
        "05_agora": dict(learner="student", test_accuracy=0.74, round0_test_accuracy=0.72,
                         control_test_accuracy=0.73, n_added=240, n_rounds=2),
    }
    for name, summary in summaries.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "run.json").write_text(json.dumps(dict(
            notebook=name, output_dir=str(folder), executed=str(folder / f"{name}.ipynb"),
            parameters={}, seconds=12.0, ok=True)))
    return root


def test_story_reads_the_run_and_the_miniature_record(run_root, tmp_path):
    committed = tmp_path / "bort_miniature.json"
    committed.write_text(json.dumps({"command": "bort_miniature.py", "date_utc": "2026-11-30",
                                     "load_before": "3.1", "result": _miniature().to_dict()}))
    s = story.build_story(run_root, committed=committed)
    assert s.sentences[0].startswith("Bort in miniature") and "Missed:" not in s.sentences[0]
    assert f"{_miniature().size_ratio:.1%} of the teacher's effective parameters" in s.sentences[0]
    assert any("chose D2-A4-H128-I512" in t for t in s.sentences)
    assert any("0.740, against 0.720" in t and "control" in t for t in s.sentences)
    assert s.table[0][0] == "model" and len(s.table) == 1 + 1 + 4  # header, teacher, 4 arms
    assert [r[0] for r in s.goals[1:]] == list(_miniature().goals())
    assert "committed benchmark" in s.table_source and "not this run" in s.table_source
    assert [f.path for f in s.figures] == ["02_fptas/pareto_2d.html",
                                           "03_pretrain/learning_curves.html",
                                           "05_agora/rounds.html"]
    # a run that made its own miniature record tells that one
    _miniature().save(run_root / MiniatureResult.file_name)
    assert story.build_story(run_root, committed=committed).table_source == "this run"
    assert story.Story.from_dict(s.to_dict()) == s


def test_story_without_anything_is_empty_and_a_missed_goal_is_said(tmp_path):
    empty = story.build_story(tmp_path, committed=tmp_path / "none.json")
    assert empty.sentences == () and empty.table == () and empty.figures == ()
    slow = _miniature().replace(latency=(LatencyPair(1, 64, 4.0, 1.0),))
    assert "Missed: ≥ 5× faster" in story.miniature_sentence(slow)


def test_index_page_puts_the_story_first(run_root, monkeypatch, tmp_path):
    committed = tmp_path / "bort_miniature.json"
    committed.write_text(json.dumps({"result": _miniature().to_dict()}))
    monkeypatch.setattr(report, "build_story",
                        lambda root: story.build_story(root, committed=committed))
    page = report.write_index(run_root).read_text()
    order = [page.index(k) for k in ("class='lead'", "id='miniature'", "id='figures'",
                                     "id='stages'", "id='02_fptas'")]
    assert order == sorted(order)
    assert page.count("<iframe") == 3 and "05_agora/rounds.html" in page
    assert "<td class='yes'>yes</td>" in page and "0.785 ± 0.010 (3)" in page


@pytest.mark.slow
def test_index_page_renders_in_headless_chromium(run_root, monkeypatch, tmp_path):
    """The page as a researcher sees it: the story's table and figures are drawn; a screenshot
    goes to a temp dir (docs/img/report.png only with BORTKIT_UPDATE_DOCS=1).

    BORTKIT_REPORT_RUN=<a pipeline run folder> renders a copy of that real run instead of the
    made-up one (how docs/img/report.png is made: from `bortkit pipeline --profile smoke`)."""
    if os.environ.get("BORTKIT_REPORT_RUN"):
        run_root = tmp_path / "real" / Path(os.environ["BORTKIT_REPORT_RUN"]).name
        shutil.copytree(os.environ["BORTKIT_REPORT_RUN"], run_root)
    sys.path.insert(0, str(BROWSER_DIR))
    try:
        from labdriver import update_docs_image
        from labserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
    finally:
        sys.path.remove(str(BROWSER_DIR))
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (`make browser-deps`)")
    sync_api = pytest.importorskip("playwright.sync_api")
    committed = Path(story.MINIATURE_RESULTS)
    if not committed.is_file():  # a fresh checkout before the benchmark ran: a made-up record
        committed = tmp_path / "bort_miniature.json"
        committed.write_text(json.dumps({"result": _miniature().to_dict()}))
    monkeypatch.setattr(report, "build_story",
                        lambda root: story.build_story(root, committed=committed))
    index = report.write_index(run_root)
    shot = tmp_path / "report.png"
    if os.environ.get("BORTKIT_REPORT_SHOT"):  # keep a copy to look at (never in the tree)
        shot = Path(os.environ["BORTKIT_REPORT_SHOT"])
    def render() -> tuple[int, int, str, int]:
        # In its own thread: the browser tier's session-wide Playwright keeps an asyncio loop
        # running in the main thread, and the sync API refuses to start inside a running loop.
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(index.as_uri())
                page.wait_for_selector("table.miniature")
                rows = page.locator("table.miniature tr").count()
                frames = page.locator("figure iframe").count()
                lead = page.locator("p.lead").inner_text()
                drawn = 0
                for k in range(frames):  # each inline figure is drawn by plotly.js (offline)
                    plot = page.frame_locator(f"figure:nth-of-type({k + 1}) iframe").locator(
                        ".js-plotly-plot .main-svg").first
                    plot.wait_for(timeout=30_000)
                    drawn += 1
                # the whole page in one viewport: Chromium does not paint off-screen iframes into a
                # full-page capture
                height = page.evaluate("document.documentElement.scrollHeight")
                page.set_viewport_size({"width": VIEWPORT["width"], "height": int(height)})
                page.wait_for_timeout(1000)
                page.screenshot(path=str(shot))
            finally:
                browser.close()
        return rows, frames, lead, drawn

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        rows, frames, lead, drawn = pool.submit(render).result()
    assert rows >= 3 and frames >= 3 and lead.startswith("Bort in miniature")
    assert drawn == frames, "every inline figure must be drawn by plotly.js"
    assert shot.is_file() and shot.stat().st_size > 10_000
    update_docs_image(shot, "report.png")
