"""Pareto figures and the explorer widget: records and trace contents, no browser."""

from __future__ import annotations

import json

import pytest

from bortkit.plots import pareto as pp
from bortkit.search import fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.space import SearchSpace

RESULT = fptas.search(SearchSpace.cpu_default(), FptasConfig(epsilon=0.25, steps=30),
                      evaluator=SyntheticEvaluator(), progress=False)
REPS = tuple(sorted({c.representative for c in RESULT.candidates}))


def test_reference_shapes_on_the_paper_space_are_bort_and_bert_base():
    space = SearchSpace.paper()
    specs = space.specs()
    marks = pp.reference_shapes(space)
    assert specs[marks["Bort-like"]].dai == (4, 8, 1024, 768)  # Bort as released
    assert specs[marks["BERT-like"]].dai == (12, 12, 768, 3072)  # BERT-base


def test_pareto_data_record():
    d = pp.pareto_data(RESULT)
    assert len(d.labels) == RESULT.n_space == 81
    assert d.trained == tuple(c.index for c in RESULT.trained)
    assert d.audited and set(d.audited) <= set(d.trained)
    assert d.front == RESULT.front.indices and d.chosen == RESULT.chosen.index
    # every member of Ξ has an e here: measured, or inherited from its representative
    assert sorted(d.trained + d.inherited) == list(range(81))
    for k in d.inherited:
        assert d.error[k] == d.error[d.representative[k]] and k not in d.trained
    assert d.params_m[0] == RESULT.candidates[0].params / 1e6
    assert set(d.landmarks) == {"Bort-like", "BERT-like"}


def test_3d_figure_traces_match_the_record():
    d = pp.pareto_data(RESULT)
    fig = pp.pareto_3d_figure(RESULT)
    by_name = {t.name: t for t in fig.data}
    front = by_name["Pareto front"]
    assert len(front.x) == len(RESULT.front)
    assert list(front.marker.color) == [d.error[k] for k in d.front]  # coloured by e
    assert list(front.marker.symbol) == [
        "circle-open" if k in d.inherited else "circle" for k in d.front]
    on_front = set(d.front)
    assert len(by_name["trained (dominated)"].x) == len(set(d.trained) - on_front)
    assert len(by_name["inherited e (dominated)"].x) == len(set(d.inherited) - on_front)
    assert set(by_name["inherited e (dominated)"].marker.symbol.split()) == {"circle-open"}
    assert list(by_name["chosen (argmax W)"].customdata) == [RESULT.chosen.index]
    n_landmarks_trained = sum(d.error[k] is not None for k in d.landmarks.values())
    assert len(fig.data) == 4 + n_landmarks_trained
    assert fig.layout.scene.zaxis.title.text == "surrogate error e"


def test_2d_figure_has_three_panels_and_p_i_covers_all_of_xi():
    fig = pp.pareto_2d_figure(RESULT)
    points = ("candidates", "inherited e / not trained", "Pareto front")
    first = [t for t in fig.data if t.xaxis == "x"]
    assert sum(len(t.x) for t in first if t.name in points) == 81
    third = [t for t in fig.data if t.xaxis == "x3"]
    assert sum(len(t.x) for t in third if t.name in points) == 81  # measured or inherited e
    measured = [t for t in third if t.name == "candidates"][0]
    trained = {c.index for c in RESULT.trained}
    assert set(measured.customdata) == trained - set(RESULT.front.indices)
    assert fig.layout.xaxis.title.text == "parameters p (M)"
    assert fig.layout.yaxis3.title.text == "surrogate error e"
    # both landmarks are always on the (p, i) panel
    assert sum(1 for t in first if t.name.startswith(("Bort-like", "BERT-like"))) == 2


def test_filter_indices_and_trim_preview():
    from bortkit.widgets import pareto as wp

    assert wp.filter_indices(RESULT) == list(range(81))
    small = wp.filter_indices(RESULT, params=(0, 2.05))
    assert small and all(RESULT.candidates[k].params / 1e6 <= 2.05 for k in small)
    with_error = wp.filter_indices(RESULT, error=(0.0, 1.0))
    assert with_error == [c.index for c in RESULT.trained]
    kept = wp.trim_preview(RESULT, RESULT.config.epsilon)
    assert kept == REPS  # the representatives (the audit's members are not kept by trimming)
    assert len(wp.trim_preview(RESULT, 0.9)) < len(kept) < len(wp.trim_preview(RESULT, 0.01))


def test_card_text_fields():
    from bortkit.widgets import pareto as wp

    text = wp.card_text(RESULT.chosen)
    for key in ("D=", "A=", "H=", "I=", "p=", "i=", "e=", "W=", "θ="):
        assert key in text
    inherited = next(c for c in RESULT.candidates if c.inherited)
    assert f"inherited from representative #{inherited.representative}" in wp.card_text(
        inherited)
    assert "trained by the audit" in wp.card_text(RESULT.candidates[RESULT.audit.members[0]])
    untrained = RESULT.candidates[0].replace(trials=(), inherited=False, audited=False)
    assert "e=— W=—" in wp.card_text(untrained)
    assert wp.card_text(untrained).splitlines()[-2:] == ["not trained", "checkpoint: no"]
    assert f"group {RESULT.chosen.group}" in text


@pytest.mark.slow
def test_explorer_builds_selects_filters_and_exports(tmp_path):
    from bortkit.widgets import pareto as wp

    ex = wp.ParetoExplorer(RESULT, export_dir=tmp_path)
    counts = {t.name: len(t.x) for t in ex.figure.data}
    assert tuple(counts) == wp.TRACES
    assert counts["trained"] == RESULT.n_trained
    assert counts["not trained"] == RESULT.n_space - RESULT.n_trained
    assert counts["kept at ε"] == len(REPS) and counts["selected"] == 1
    assert f"D={RESULT.chosen.spec.D}" in ex.card.value  # starts on the chosen architecture
    assert sorted(a.text.split()[0] for a in ex.figure.layout.annotations) == [
        "BERT-like", "Bort-like"]

    ex.epsilon_slider.value = 0.9
    assert len(ex.figure.data[2].x) == len(wp.trim_preview(RESULT, 0.9))
    assert "keeps <b>" in ex.kept_label.value

    ex.error_range.value = (0.0, RESULT.chosen.error)
    n = len(wp.filter_indices(RESULT, error=(0.0, RESULT.chosen.error)))
    assert len(ex.figure.data[0].x) == n

    picked = ex.select(5)
    assert picked.index == 5 and list(ex.figure.data[4].customdata) == [5]
    path = ex.export()
    cfg = json.loads(path.read_text())
    assert cfg["hidden_size"] == picked.spec.H and cfg["num_hidden_layers"] == picked.spec.D
    with pytest.raises(ValueError, match="index must be in"):
        ex.select(999)


def test_hover_says_which_e_is_inherited():
    d = pp.pareto_data(RESULT)
    k = d.inherited[0]
    r = d.representative[k]
    assert f"e inherited from representative #{r} ({d.labels[r]})" in d.hover(k)
    assert "inherited" not in d.hover(d.trained[0])
    assert "trained by the audit" in d.hover(d.audited[0])


def test_hover_is_the_card():
    from bortkit.widgets import pareto as wp

    d = pp.pareto_data(RESULT)
    for c in (RESULT.chosen, RESULT.candidates[d.inherited[0]],
              RESULT.candidates[d.audited[0]]):
        rep = RESULT.candidates[c.representative].spec.label
        assert d.hover(c.index) == wp.card_text(c, representative=rep).replace("\n", "<br>")
    hover = d.hover(RESULT.chosen.index)
    c = RESULT.chosen
    for field in (c.spec.label, f"D={c.spec.D} A={c.spec.A} H={c.spec.H} I={c.spec.I}",
                  f"p={c.params:,}", f"i={c.ops:,}", f"e={c.error:.4f}", f"W={c.w:.4g}",
                  f"θ={c.theta.label}", f"group {c.group}", "<br>trained<br>",
                  "checkpoint: no"):
        assert field in hover
    kept = _with_checkpoint(RESULT, c.index, "/somewhere/kept")
    assert "checkpoint: yes" in pp.pareto_data(kept).hover(c.index)


def _with_checkpoint(result, index, path):
    """`result` with candidate `index`'s trials carrying the kept folder `path`."""
    c = result.candidates[index]
    trials = tuple(t.replace(checkpoint=str(path)) for t in c.trials)
    cands = list(result.candidates)
    cands[index] = c.replace(trials=trials)
    return result.replace(candidates=tuple(cands),
                          chosen=cands[index] if result.chosen.index == index else result.chosen)


def _tiny_checkpoint(folder, spec):
    """A loadable HF folder of a random `spec` BertModel (what a kept checkpoint looks like)."""
    from transformers import BertModel

    small = spec.replace(vocab_size=100, max_position_embeddings=32)
    BertModel(small.to_bert_config()).save_pretrained(folder)
    return folder


def test_export_checkpoint_copies_a_loadable_folder(tmp_path):
    from transformers import AutoModel

    from bortkit.widgets import pareto as wp

    c = RESULT.chosen
    kept = _tiny_checkpoint(tmp_path / "kept" / "x", c.spec)
    cand = _with_checkpoint(RESULT, c.index, kept).candidates[c.index]
    assert wp.export_config(cand, tmp_path / "out").is_file()  # config.json first, as today
    target = wp.export_checkpoint(cand, tmp_path / "out")
    assert target == tmp_path / "out" / c.spec.label
    model = AutoModel.from_pretrained(target)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (c.spec.D, c.spec.H)
    assert (model.config.intermediate_size, model.config.num_attention_heads) == (c.spec.I,
                                                                                  c.spec.A)
    before = (target / "config.json").read_text()
    wp.export_config(cand, tmp_path / "out")  # keeps the checkpoint's own config.json
    assert (target / "config.json").read_text() == before
    assert (kept / "config.json").is_file(), "the kept folder stays where it was"


def test_export_checkpoint_says_why_when_there_is_none(tmp_path):
    from bortkit.widgets import pareto as wp

    with pytest.raises(ValueError, match="no weights kept: run with keep_weights"):
        wp.export_checkpoint(RESULT.chosen, tmp_path)
    gone = _with_checkpoint(RESULT, 0, tmp_path / "gone").candidates[0]
    with pytest.raises(FileNotFoundError, match="gone"):
        wp.export_checkpoint(gone, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_explorer_checkpoint_button(tmp_path):
    from bortkit.widgets import pareto as wp

    c = RESULT.chosen
    result = _with_checkpoint(RESULT, c.index, _tiny_checkpoint(tmp_path / "kept", c.spec))
    ex = wp.ParetoExplorer(result, export_dir=tmp_path / "out")
    assert not ex.checkpoint_button.disabled  # starts on the chosen one, which has weights
    assert "checkpoint: yes" in ex.card.value
    ex.checkpoint_button.click()
    assert (tmp_path / "out" / c.spec.label / "model.safetensors").is_file()
    assert "wrote checkpoint" in ex.export_status.value
    other = next(k for k in range(result.n_space) if k != c.index)
    ex.select(other)
    assert ex.checkpoint_button.disabled and ex.checkpoint_button.description == "no weights kept"
    assert ex.checkpoint_button.tooltip == wp.NO_WEIGHTS
    with pytest.raises(ValueError, match="no weights kept"):
        ex.export_checkpoint()
    assert "no weights kept: run with keep_weights" in ex.export_status.value


def test_error_spread_figure_shows_every_trained_e_and_its_spread():
    fig = pp.error_spread_figure(RESULT)
    spread = RESULT.error_spread()
    hist = next(t for t in fig.data if t.type == "histogram")
    assert sorted(hist.x) == sorted(c.error for c in RESULT.trained)
    strip = {t.name: t for t in fig.data if t.type == "scatter"}
    assert len(strip["trained by the audit"].x) == RESULT.n_audited
    assert len(strip["representatives"].x) == RESULT.n_trained - RESULT.n_audited
    assert f"median {spread.median:.4f}" in fig.layout.title.text
    assert spread.min < spread.median < spread.max
