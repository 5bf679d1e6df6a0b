"""bortkit.agora.experiment: the text config's validation and smoke sizes, the parts built from
it, and the whole text path (sampler → labeller → learner) through the generic loop."""

from __future__ import annotations

import datasets
import pytest

from bortkit.agora import experiment
from bortkit.agora.labellers import EmbeddingLabeller
from bortkit.agora.learners import FinetuneLearner, HeadLearner, task_dataset
from bortkit.agora.records import AgoraConfig
from bortkit.agora.samplers import MaskRefillSampler
from bortkit.agora.student import StudentLearner
from bortkit.theta import make_grid

pytestmark = pytest.mark.usefixtures("one_thread")


def test_config_defaults_and_smoke():
    config = experiment.TextAgoraConfig()
    assert (config.train_size, config.n_thetas, config.agora.max_mistakes) == (300, 2, 60)
    assert (config.learner, config.sampler, config.select_fraction) == ("student", "both", 0.5)
    smoke = experiment.TextAgoraConfig.smoke()
    assert (smoke.train_size, smoke.labeller_size, smoke.n_thetas) == (32, 96, 2)
    assert smoke.teacher.steps == 5 and smoke.agora == AgoraConfig.smoke()
    assert smoke.student.steps == 4 and smoke.pool.size == 400
    assert experiment.TextAgoraConfig.smoke(learner="finetune").select_fraction == 0
    assert experiment.TextAgoraConfig.smoke(n_thetas=4).n_thetas == 4  # the caller's value wins
    assert experiment.TextAgoraConfig.from_dict(smoke.to_dict()) == smoke


@pytest.mark.parametrize("kw,match", [
    (dict(learner="svm"), "learner"), (dict(train_size=0), "train_size"),
    (dict(theta_preset="gpu"), "theta_preset"), (dict(agora={"band": (0.9, 0.1)}), "agora"),
    (dict(sampler="gan"), "sampler"), (dict(select_fraction=1.0), "select_fraction"),
    (dict(learner="finetune"), "select_fraction"), (dict(control="yes"), "control"),
    (dict(student={"steps": 3}), "student"),
])
def test_config_validation(kw, match):
    with pytest.raises((ValueError, TypeError), match=f"TextAgoraConfig.{match}"):
        experiment.TextAgoraConfig(**kw)


def test_head_thetas():
    thetas = experiment.head_thetas(3)
    assert [(t.seed, t.lr) for t in thetas] == [(0, 1e-3), (0, 3e-3), (1, 1e-3)]


def test_build_parts(tiny, task_data, sentences, tmp_path):
    tok, _, emb = tiny
    head, thetas = experiment.build_learner(
        experiment.TextAgoraConfig(learner="head", n_thetas=2), task_data, embedder=emb)
    assert isinstance(head, HeadLearner) and len(thetas) == 2
    smoke = experiment.TextAgoraConfig.smoke(learner="finetune")
    fit, thetas = experiment.build_learner(smoke, task_data, embedder=emb, tokenizer=tok)
    assert isinstance(fit, FinetuneLearner) and fit.model_source == smoke.student_spec
    assert len(thetas) == 2 and fit.config.epochs == 1
    texts, labels = sentences
    lab = experiment.build_labeller("", embedder=emb, data={"text": texts, "label": labels},
                                    label_names=("neg", "pos"))
    assert isinstance(lab, EmbeddingLabeller)
    student, thetas = experiment.build_learner(experiment.TextAgoraConfig.smoke(), task_data,
                                               embedder=emb, tokenizer=tok, labeller=lab)
    assert isinstance(student, StudentLearner) and student.gold == set(texts[:4])
    assert [t.lr for t in thetas] == [1e-3, 3e-4] and student.config.steps == 4
    with pytest.raises(ValueError, match="soft_labels"):  # no labeller probabilities to distil
        experiment.build_learner(experiment.TextAgoraConfig.smoke(), task_data, embedder=emb,
                                 tokenizer=tok)
    with pytest.raises(FileNotFoundError):  # a folder names a fine-tuned labeller
        experiment.build_labeller(tmp_path, embedder=emb, data=None)


def test_text_agora_end_to_end_with_the_head_learner(tiny, sentences):
    """The whole text path (sampler → labeller → learner) through the generic loop."""
    tok, mlm, emb = tiny
    texts, labels = sentences
    names = ["neg", "pos"]
    data = datasets.DatasetDict(train=task_dataset(texts[:3], labels[:3], names),
                                validation=task_dataset(texts[3:], labels[3:], names),
                                test=task_dataset(texts, labels, names))
    thetas = make_grid(seeds=(0, 1), lrs=(1e-2,), batch_sizes=(2,))
    learner = HeadLearner(emb, n_labels=2, epochs=2)
    run = experiment.run_text(
        data, learner=learner, sampler=MaskRefillSampler(mlm, tok, embedder=emb),
        labeller=EmbeddingLabeller(emb, texts, labels), thetas=thetas,
        config=AgoraConfig(samples_per_mistake=2, band=(0.0, 0.9999), augment_last=True),
        seed=0, progress=False)
    res = run.result
    assert [len(r.thetas) for r in res.rounds] == [2, 1]
    for r in res.rounds:
        assert not set(r.new_points) & set(texts)
        assert set(r.new_sources) <= set(r.mistakes)
    assert run.dev_texts == tuple(texts[3:]) and run.n_steps > 0
    assert 0 <= run.test_accuracy <= 1 and 0 <= run.labeller_test_accuracy <= 1
    base = experiment.round0_test_accuracy(learner, res, data, thetas, seed=0)
    assert run.baseline_test_accuracy == base  # round 0's model, kept instead of refitted
    assert experiment.TextRun.from_dict(run.to_dict()) == run


@pytest.mark.slow
def test_cli_text_agora_with_the_student_pool_and_control(tmp_path, capsys, one_thread):
    """`bortkit agora --smoke --control`: the student learner, both samplers, dev-A/dev-B, the
    control with as many points per round, all written as JSON and figures."""
    import json

    from bortkit.cli import main

    assert main(["agora", "--smoke", "--control", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "text" and summary["control_test_accuracy"] is not None
    run = experiment.TextRun.load(tmp_path / "agora_result.json")
    assert run.control.added_per_round == run.result.added_per_round
    assert run.result.best_select_accuracy is not None and run.select_texts
    assert not set(run.select_texts) & set(run.dev_texts)
    for r in run.result.rounds:
        assert not set(r.new_points) & (set(run.select_texts) | set(run.dev_texts))
    assert {"rounds.html", "accuracy.html"} <= {p.name for p in tmp_path.glob("*.html")}
