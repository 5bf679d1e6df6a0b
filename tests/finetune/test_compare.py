"""bortkit.finetune.compare: one record per θ, only the best θ's model kept, each compared
model's best run exported with its result beside it, and the models notebook 04 compares."""

from __future__ import annotations

import pytest

from bortkit import finetune as ft
from bortkit.finetune import FinetuneConfig, FinetuneResult
from bortkit.theta import make_grid

pytestmark = pytest.mark.usefixtures("one_thread")

ONE_EPOCH = FinetuneConfig(epochs=1, max_length=16)


def test_run_grid_one_record_per_theta(tmp_path, make_task, tiny):
    thetas = make_grid(seeds=(0, 1), lrs=(3e-3,), batch_sizes=(32,))
    results = ft.run_grid(tiny, make_task(64, 32), thetas, config=ONE_EPOCH,
                          output_dir=tmp_path, progress=False)
    assert [r.theta for r in results] == list(thetas)
    kept = [r for r in results if r.model_dir]
    assert len(kept) == 1 and kept[0] is ft.best_result(results)
    # only the best θ's model folder is kept (each θ's record stays, for resuming)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [kept[0].theta.label]
    frame = ft.results_frame(results)
    assert list(frame["theta"]) == [t.label for t in thetas]


def test_compare_keeps_each_models_best(tmp_path, trained, make_task, tiny):
    sources = {"tiny": tiny, "trained": trained.model_dir}
    thetas = make_grid(lrs=(3e-3, 1e-3), batch_sizes=(32,))
    best = ft.compare(sources, make_task(64, 32), thetas=thetas, config=ONE_EPOCH,
                      output_dir=tmp_path, progress=False)
    assert list(best) == ["tiny", "trained"] and best["trained"].source == "trained"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny", "trained"]
    assert FinetuneResult.load(tmp_path / "tiny") == best["tiny"]
    assert best["tiny"].model_dir == str(tmp_path / "tiny")
    assert best["trained"].val.accuracy >= 0.8  # a classifier checkpoint keeps its head


def test_comparison_sources_without_student(tmp_path, tiny):
    sources = ft.comparison_sources(tmp_path / "missing", fallback_spec=tiny)
    assert list(sources) == ["random-init", "minilm"] and sources["random-init"] == tiny
    (tmp_path / "model").mkdir()
    tiny.to_bert_config().save_pretrained(tmp_path / "model")
    other = tiny.replace(hidden_size=16, intermediate_size=16)
    sources = ft.comparison_sources(tmp_path, fallback_spec=other, minilm=False)
    assert sources == {"pretrained-student": tmp_path / "model", "random-init": tiny}


def test_run_grid_rejects_empty_thetas(make_task, tiny):
    with pytest.raises(ValueError, match="thetas must be a non-empty"):
        ft.run_grid(tiny, make_task(8, 4), [])
    with pytest.raises(ValueError, match="keep"):
        ft.run_grid(tiny, make_task(8, 4), make_grid(), keep="some")


def test_best_result_of_nothing():
    with pytest.raises(ValueError, match="results is empty"):
        ft.best_result([])
