"""bortkit.finetune.engine: data checks, argument checks, training beats chance on an easy split,
best-epoch selection, early stopping, the exported result, and the `bortkit finetune` CLI.

Models are tiny random-init BERTs (H=32, 2 layers) on an easy synthetic split built in code;
the tokenizer is the shipped MiniLM WordPiece (offline).
"""

from __future__ import annotations

import pytest

from bortkit import finetune as ft
from bortkit.finetune import FinetuneConfig, FinetuneResult
from bortkit.records import load_json
from bortkit.theta import Theta

pytestmark = pytest.mark.usefixtures("one_thread")


# --- data checks -----------------------------------------------------------------------------
def test_task_labels_names(make_task):
    assert ft.task_labels(make_task(8, 4, n_labels=3)) == ("bad", "good", "meh")


def test_label_out_of_range(make_task):
    from datasets import DatasetDict, Value

    data = make_task(8, 4)
    bad = data["train"].cast_column("label", Value("int64"))
    bad = bad.map(lambda row, i: {"label": 5 if i == 0 else row["label"]}, with_indices=True)
    with pytest.raises(ValueError, match=r"label 5 outside \[0, 2\)"):
        ft.task_labels(DatasetDict(train=bad, validation=data["validation"]), num_labels=2)


def test_wrong_num_labels(make_task):
    with pytest.raises(ValueError, match="num_labels=3 but the data's ClassLabel has 2"):
        ft.task_labels(make_task(8, 4), num_labels=3)


def test_missing_split(make_split):
    from datasets import DatasetDict

    with pytest.raises(ValueError, match="'validation' split"):
        ft.task_labels(DatasetDict(train=make_split(8, 0)))


def test_missing_column(make_task):
    data = make_task(8, 4)
    data["train"] = data["train"].rename_column("text", "sentence")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['text'\]"):
        ft.task_labels(data)


# --- argument checks -------------------------------------------------------------------------
def test_theta_and_config_must_be_records(make_task, tiny):
    with pytest.raises(TypeError, match="theta must be a Theta"):
        ft.finetune(tiny, make_task(8, 4), theta={"lr": 1e-3}, progress=False)
    with pytest.raises(TypeError, match="config must be a FinetuneConfig"):
        ft.finetune(tiny, make_task(8, 4), config={"epochs": 1}, progress=False)


def test_encode_checks_max_length(make_task, tokenizer):
    with pytest.raises(ValueError, match="max_length"):
        ft.encode(make_task(8, 4), tokenizer, max_length=4)


def test_max_length_beyond_positions(make_task, tiny_spec):
    short = tiny_spec(max_position_embeddings=4)
    with pytest.raises(ValueError, match="only 4 positions; lower max_length"):
        ft.finetune(short, make_task(8, 4), config=FinetuneConfig(max_length=16),
                    progress=False)


# --- training, selection, export -------------------------------------------------------------
def test_beats_chance_on_easy_split(trained):
    assert trained.test is not None and trained.test.accuracy >= 0.8
    assert trained.val.accuracy >= 0.8 and trained.val.n == 64
    assert [p.epoch for p in trained.curve] == [1, 2, 3, 4]
    assert trained.curve[-1].train_loss < trained.curve[0].train_loss
    assert trained.val == next(p.val for p in trained.curve if p.epoch == trained.best_epoch)
    assert len(trained.val_predictions) == 64 and trained.train_size == 128
    assert not trained.stopped_early and trained.seconds > 0


def test_result_is_saved_beside_the_model(trained):
    assert FinetuneResult.from_dict(trained.to_dict()) == trained
    assert FinetuneResult.load(trained.model_dir) == trained
    steps, values = trained.series("val_accuracy")
    assert len(steps) == len(values) == 4 and steps == tuple(sorted(steps))


def test_early_stopping(make_task, tiny):
    tiny_lr = Theta(lr=1e-9, warmup_ratio=0.0, batch_size=32)
    config = FinetuneConfig(epochs=5, max_length=16, patience=1)
    result = ft.finetune(tiny, make_task(64, 32), theta=tiny_lr, config=config, progress=False)
    assert result.epochs_run == 2 and result.stopped_early and result.best_epoch == 1
    assert result.model_dir is None


# --- CLI -------------------------------------------------------------------------------------
def test_cli_finetune_writes_model_and_results(tmp_path, capsys):
    from bortkit.cli import main

    out = tmp_path / "run"
    rc = main(["finetune", "--task", "sms", "--spec", "2,2,32,64", "--out", str(out),
               "--train-size", "32", "--eval-size", "16", "--epochs", "1", "--max-length", "16",
               "--theta", "smoke", "--no-progress"])
    assert rc == 0
    results = [FinetuneResult.from_dict(d) for d in load_json(out / "results.json")]
    assert len(results) == 2 and sum(r.model_dir is not None for r in results) == 1
    assert FinetuneResult.load(out / "model").model_dir == str(out / "model")
    assert "best model" in capsys.readouterr().out


def test_cli_missing_model_is_a_user_error(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["finetune", "--task", "sms", "--model", str(tmp_path / "nope"),
               "--out", str(tmp_path / "out")])
    assert rc == 2 and "no config.json" in capsys.readouterr().err
