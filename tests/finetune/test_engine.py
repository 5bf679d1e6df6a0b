"""bortkit.finetune.engine: Θ records and presets, data checks, training beats chance, export, predict.

Models are tiny random-init BERTs (H=32, 2 layers) on an easy synthetic split built in code;
the tokenizer is the shipped MiniLM WordPiece (offline).
"""

from __future__ import annotations

import random

import pytest

from bortkit import finetune as ft
from bortkit import theta as th
from bortkit.arch import ArchSpec
from bortkit.records import load_json

TINY = ArchSpec(2, 2, 32, 64, max_position_embeddings=64)
EASY = th.Theta(seed=0, lr=3e-3, warmup_ratio=0.0, batch_size=16)


def _split(n: int, seed: int, *, n_labels: int = 2):
    """The label is the first word; three filler words follow."""
    from datasets import ClassLabel, Dataset, Features, Value

    words = ["bad", "good", "meh"][:n_labels]
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        y = rng.randrange(n_labels)
        filler = " ".join(rng.choice(["long", "short", "red", "movie", "plot"]) for _ in range(3))
        rows.append({"text": f"{words[y]} {filler}", "label": y})
    features = Features({"text": Value("string"), "label": ClassLabel(names=words)})
    return Dataset.from_list(rows, features=features)


def _task(n_train: int = 128, n_eval: int = 64, *, n_labels: int = 2):
    from datasets import DatasetDict

    return DatasetDict(train=_split(n_train, 0, n_labels=n_labels),
                       validation=_split(n_eval, 1, n_labels=n_labels),
                       test=_split(n_eval, 2, n_labels=n_labels))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from 2 threads and lose a lot on a shared, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "model"
    result = ft.finetune(TINY, _task(), theta=EASY, epochs=4, max_length=16, patience=None,
                         output_dir=out, progress=False)
    return result


# --- Θ ---------------------------------------------------------------------------------------
def test_theta_round_trip_and_label():
    t = th.Theta(seed=3, lr=1e-5, weight_decay=10, warmup_ratio=0.35, batch_size=8)
    assert th.Theta.from_dict(t.to_dict()) == t
    assert t.label == "s3-lr1e-05-wd10-wu0.35-bs8"
    assert isinstance(t.weight_decay, float)


@pytest.mark.parametrize("field,value,error", [
    ("seed", -1, ValueError), ("seed", 1.0, TypeError), ("batch_size", 0, ValueError),
    ("lr", 0.0, ValueError), ("lr", float("nan"), ValueError), ("lr", "1e-4", TypeError),
    ("weight_decay", -0.1, ValueError), ("warmup_ratio", 1.0, ValueError),
    ("warmup_ratio", -0.1, ValueError),
])
def test_theta_validation(field, value, error):
    with pytest.raises(error, match=f"Theta.{field}"):
        th.Theta(**{field: value})


def test_bort_preset_is_the_readme_grid():
    grid = th.theta_grid("bort")
    assert len(grid) == 480 and len({t.label for t in grid}) == 480
    assert {t.lr for t in grid} == {1e-4, 1e-5, 9e-6}
    assert {t.weight_decay for t in grid} == {0, 10, 100, 350}
    assert {t.warmup_ratio for t in grid} == {0.35, 0.40, 0.45, 0.50}
    assert {t.batch_size for t in grid} == {8, 16} and {t.seed for t in grid} == set(range(5))


def test_small_presets():
    assert len(th.theta_grid("cpu")) == 8
    assert len(th.theta_grid("smoke")) == 2
    assert [t.lr for t in th.theta_grid("lr")] == [2e-4, 1e-4, 5e-5]


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown Θ preset 'gpu'"):
        th.theta_grid("gpu")


def test_make_grid_empty_axis():
    with pytest.raises(ValueError, match="lrs is empty"):
        th.make_grid(lrs=())


# --- data checks -----------------------------------------------------------------------------
def test_task_labels_names():
    assert ft.task_labels(_task(8, 4, n_labels=3)) == ("bad", "good", "meh")


def test_label_out_of_range():
    from datasets import DatasetDict, Value

    data = _task(8, 4)
    bad = data["train"].cast_column("label", Value("int64"))
    bad = bad.map(lambda row, i: {"label": 5 if i == 0 else row["label"]}, with_indices=True)
    with pytest.raises(ValueError, match=r"label 5 outside \[0, 2\)"):
        ft.task_labels(DatasetDict(train=bad, validation=data["validation"]), num_labels=2)


def test_wrong_num_labels():
    with pytest.raises(ValueError, match="num_labels=3 but the data's ClassLabel has 2"):
        ft.task_labels(_task(8, 4), num_labels=3)


def test_missing_split():
    from datasets import DatasetDict

    with pytest.raises(ValueError, match="'validation' split"):
        ft.task_labels(DatasetDict(train=_split(8, 0)))


def test_missing_column():
    data = _task(8, 4)
    data["train"] = data["train"].rename_column("text", "sentence")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['text'\]"):
        ft.task_labels(data)


def test_checkpoint_with_other_num_labels(trained):
    with pytest.raises(ValueError, match="classifier for num_labels=2, but the task has 3"):
        ft.load_classifier(trained.model_dir, label_names=["a", "b", "c"])


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ft.load_classifier(tmp_path, label_names=["a", "b"])


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0), "epochs"), (dict(patience=0), "patience"), (dict(metric="auc"), "metric"),
    (dict(theta={"lr": 1e-3}), "theta must be a Theta"), (dict(max_length=4), "max_length"),
])
def test_finetune_argument_checks(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ft.finetune(TINY, _task(8, 4), progress=False, **kwargs)


def test_max_length_beyond_positions():
    short = ArchSpec(2, 2, 32, 64, max_position_embeddings=4)
    with pytest.raises(ValueError, match="only 4 positions; lower max_length"):
        ft.finetune(short, _task(8, 4), max_length=16, progress=False)


# --- the head --------------------------------------------------------------------------------
def test_head_dropout_only_in_training():
    import torch
    from transformers import BertForSequenceClassification

    config = TINY.to_bert_config(num_labels=2, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    torch.manual_seed(0)
    plain = BertForSequenceClassification(config)
    hooked = ft.add_head_dropout(BertForSequenceClassification(config), p=0.5)
    hooked.load_state_dict(plain.state_dict())
    ids = torch.randint(5, 1000, (4, 10))
    plain.eval(), hooked.eval()
    assert torch.allclose(plain(ids).logits, hooked(ids).logits)
    plain.train(), hooked.train()
    assert torch.allclose(plain(ids).logits, plain(ids).logits)  # no other dropout is active
    assert not torch.allclose(hooked(ids).logits, hooked(ids).logits)
    assert set(hooked.state_dict()) == set(plain.state_dict())  # names unchanged


# --- training, export, prediction ------------------------------------------------------------
def test_beats_chance_on_easy_split(trained):
    assert trained.test is not None and trained.test.accuracy >= 0.8
    assert trained.val.accuracy >= 0.8 and trained.val.n == 64
    assert [p.epoch for p in trained.curve] == [1, 2, 3, 4]
    assert trained.curve[-1].train_loss < trained.curve[0].train_loss
    assert trained.val == next(p.val for p in trained.curve if p.epoch == trained.best_epoch)
    assert len(trained.val_predictions) == 64 and trained.train_size == 128
    assert not trained.stopped_early and trained.seconds > 0


def test_result_round_trip(trained):
    assert ft.FinetuneResult.from_dict(trained.to_dict()) == trained
    assert ft.load_result(trained.model_dir) == trained
    steps, values = trained.series("val_accuracy")
    assert len(steps) == len(values) == 4 and steps == tuple(sorted(steps))
    with pytest.raises(ValueError, match="unknown curve metric"):
        trained.series("val_auc")


def test_export_reloads_with_auto_class(trained):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(trained.model_dir).eval()
    tok = AutoTokenizer.from_pretrained(trained.model_dir)
    assert model.config.id2label == {0: "bad", 1: "good"}
    texts = ["good movie plot red", "bad long short plot"]
    with torch.no_grad():
        probs = model(**tok(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    pred = ft.predict(trained.model_dir, texts)
    assert pred.labels == (1, 0)
    assert torch.allclose(probs, torch.tensor(pred.probs), atol=1e-5)
    same = ft.predict(model, texts, tokenizer=tok, batch_size=1)
    assert same.labels == pred.labels
    assert ft.Predictions.from_dict(pred.to_dict()) == pred


def test_predict_argument_checks(trained):
    with pytest.raises(TypeError, match="not one string"):
        ft.predict(trained.model_dir, "good movie")
    with pytest.raises(ValueError, match="tokenizer is required"):
        ft.predict(object(), ["good movie"])


def test_early_stopping():
    tiny_lr = th.Theta(lr=1e-9, warmup_ratio=0.0, batch_size=32)
    result = ft.finetune(TINY, _task(64, 32), theta=tiny_lr, epochs=5, max_length=16,
                         patience=1, progress=False)
    assert result.epochs_run == 2 and result.stopped_early and result.best_epoch == 1
    assert result.model_dir is None


def test_run_grid_one_record_per_theta(tmp_path):
    thetas = th.make_grid(seeds=(0, 1), lrs=(3e-3,), batch_sizes=(32,))
    results = ft.run_grid(TINY, _task(64, 32), thetas, epochs=1, max_length=16,
                          output_dir=tmp_path, progress=False)
    assert [r.theta for r in results] == list(thetas)
    kept = [r for r in results if r.model_dir]
    assert len(kept) == 1 and kept[0] is ft.best_result(results)
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept[0].theta.label]
    frame = ft.results_frame(results)
    assert list(frame["theta"]) == [t.label for t in thetas]


def test_compare_keeps_each_models_best(tmp_path, trained):
    sources = {"tiny": TINY, "trained": trained.model_dir}
    thetas = th.make_grid(lrs=(3e-3, 1e-3), batch_sizes=(32,))
    best = ft.compare(sources, _task(64, 32), thetas=thetas, epochs=1, max_length=16,
                      output_dir=tmp_path, progress=False)
    assert list(best) == ["tiny", "trained"] and best["trained"].source == "trained"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny", "trained"]
    assert ft.load_result(tmp_path / "tiny") == best["tiny"]
    assert best["trained"].val.accuracy >= 0.8  # a classifier checkpoint keeps its head


def test_comparison_sources_without_student(tmp_path):
    sources = ft.comparison_sources(tmp_path / "missing", fallback_spec=TINY)
    assert list(sources) == ["random-init", "minilm"] and sources["random-init"] == TINY
    (tmp_path / "model").mkdir()
    TINY.to_bert_config().save_pretrained(tmp_path / "model")
    sources = ft.comparison_sources(tmp_path, fallback_spec=ArchSpec(2, 2, 16, 16), minilm=False)
    assert sources == {"pretrained-student": tmp_path / "model", "random-init": TINY}


def test_run_grid_rejects_empty_thetas():
    with pytest.raises(ValueError, match="thetas must be a non-empty"):
        ft.run_grid(TINY, _task(8, 4), [])


# --- figures ---------------------------------------------------------------------------------
def _fake(label_seed: int, val_acc: float):
    from bortkit.finetune.metrics import classification_metrics

    val = classification_metrics([0, 1, 1, 0], [0, 1, 1, 1], n_labels=2)
    val = type(val)(val_acc, val.macro_f1, val.mcc, val.n, val.confusion)
    point = ft.EpochPoint(1, 10, 0.5, val)
    return ft.FinetuneResult(f"m{label_seed}", th.Theta(seed=label_seed), 1, "accuracy", val, val,
                             (point,), 1.0, 4, 1, 1, ("neg", "pos"), (0, 1, 1, 1))


def test_theta_table_sorted_best_first():
    from bortkit.plots import finetune as fp

    results = [_fake(0, 0.5), _fake(1, 0.9), _fake(2, 0.7)]
    info = fp.theta_table_info(results)
    assert [row[0] for row in info.rows] == [results[i].theta.label for i in (1, 2, 0)]
    assert info.rows[0][1] == "0.900" and len(info.columns) == len(info.rows[0])
    fig = fp.theta_table_figure(results)
    assert list(fig.data[0].header.values) == list(fp.THETA_COLUMNS)
    assert len(fig.data[0].cells.values[0]) == 3


def test_confusion_info_and_figure(trained):
    from bortkit.plots import finetune as fp

    info = fp.confusion_info(trained)
    assert info.labels == ("bad", "good")
    assert sum(map(sum, info.counts)) == trained.test.n
    assert all(abs(sum(r) - 1) < 1e-9 for r in info.rates if sum(r))
    fig = fp.confusion_figure(trained, split="validation")
    assert fig.data[0].type == "heatmap" and list(fig.data[0].x) == ["bad", "good"]
    with pytest.raises(ValueError, match="split must be"):
        fp.confusion_info(trained, split="train")


def test_comparison_and_curves(trained):
    from bortkit.plots import finetune as fp

    runs = {"a": trained, "b": _fake(1, 0.5)}
    info = fp.comparison_info(runs)
    assert info.models == ("a", "b") and info.values[0] == (trained.test.accuracy, 0.5)
    assert len(fp.comparison_figure(runs).data) == 2
    fig = fp.curves_figure({"a": trained})
    assert len(fig.data) == 3 and list(fig.data[2].y) == list(trained.series("val_accuracy")[1])


# --- CLI -------------------------------------------------------------------------------------
def test_cli_finetune_writes_model_and_results(tmp_path, capsys):
    from bortkit.cli import main

    out = tmp_path / "run"
    rc = main(["finetune", "--task", "sms", "--spec", "2,2,32,64", "--out", str(out),
               "--train-size", "32", "--eval-size", "16", "--epochs", "1", "--max-length", "16",
               "--theta", "smoke", "--no-progress"])
    assert rc == 0
    results = [ft.FinetuneResult.from_dict(d) for d in load_json(out / "results.json")]
    assert len(results) == 2 and sum(r.model_dir is not None for r in results) == 1
    assert ft.load_result(out / "model").model_dir == str(out / "model")
    assert "best model" in capsys.readouterr().out


def test_cli_missing_model_is_a_user_error(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["finetune", "--task", "sms", "--model", str(tmp_path / "nope"),
               "--out", str(tmp_path / "out")])
    assert rc == 2 and "no config.json" in capsys.readouterr().err
