"""bortkit.finetune.engine: data checks, argument checks, training beats chance on an easy split,
a few steps reduce the loss (both poolings), best-epoch selection (ties go to the later epoch),
early stopping, the constant schedule, the exported result, and the `bortkit finetune` CLI.

Models are tiny random-init BERTs (H=32, 2 layers) on an easy synthetic split built in code;
the tokenizer is the shipped MiniLM WordPiece (offline).
"""

from __future__ import annotations

import pytest

from bortkit import finetune as ft
from bortkit.finetune import FinetuneConfig, FinetuneResult
from bortkit.finetune.engine import is_better
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


def _evaluations(accuracies, *, patience):
    """Feed the run's tracker one validation pass per accuracy; (tracker, stopped after)."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from bortkit.finetune.engine import _make_tracker

    tracker = _make_tracker(metric="accuracy", patience=patience, n_labels=2)
    model = torch.nn.Linear(2, 2)
    control = SimpleNamespace(should_training_stop=False)
    for epoch, acc in enumerate(accuracies, start=1):
        n_right = int(round(acc * 20))
        labels = np.array([0] * 20)
        logits = np.array([[1.0, 0.0]] * n_right + [[0.0, 1.0]] * (20 - n_right))
        tracker.compute(SimpleNamespace(predictions=logits, label_ids=labels))
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights of this epoch, to see which are kept
        tracker.on_evaluate(None, SimpleNamespace(epoch=epoch, global_step=10 * epoch), control,
                            metrics={"eval_loss": 0.5}, model=model)
        if control.should_training_stop:
            return tracker, epoch
    return tracker, None


def test_best_epoch_tie_goes_to_the_later_epoch():
    assert is_better(0.5, None) and is_better(0.5, 0.5) and not is_better(0.4, 0.5)
    # a small model at the majority class for three epochs, then learning, then worse
    tracker, stopped = _evaluations([0.5, 0.5, 0.5, 0.7, 0.7, 0.6, 0.55], patience=2)
    assert tracker.best_epoch == 5 and tracker.best_val.accuracy == 0.7
    assert float(tracker.best_state["weight"][0, 0]) == 5.0  # epoch 5's weights are kept
    assert stopped == 7  # two evaluations strictly worse than the best in a row
    # ties never count towards patience: a flat start does not stop the run
    tracker, stopped = _evaluations([0.5] * 6, patience=1)
    assert stopped is None and tracker.best_epoch == 6


def test_early_stopping_and_ties_end_to_end(make_task, tiny):
    # lr 1e-9: the weights barely move, so every epoch scores the same: ties, no early stop,
    # and the last epoch is kept
    tiny_lr = Theta(lr=1e-9, warmup_ratio=0.0, batch_size=32)
    config = FinetuneConfig(epochs=3, max_length=16, patience=1)
    result = ft.finetune(tiny, make_task(64, 32), theta=tiny_lr, config=config, progress=False)
    assert len({p.val.accuracy for p in result.curve}) == 1
    assert result.epochs_run == 3 and not result.stopped_early and result.best_epoch == 3
    assert result.model_dir is None


def test_a_few_steps_reduce_the_loss_with_either_pooling(make_task, tiny, easy_theta):
    for pooling in ("mean", "first"):
        config = FinetuneConfig(epochs=3, max_length=16, patience=None, threads=1,
                                pooling=pooling)
        result = ft.finetune(tiny, make_task(64, 32), theta=easy_theta, config=config,
                             progress=False)
        losses = [p.train_loss for p in result.curve]
        assert losses[-1] < losses[0], (pooling, losses)


def test_constant_schedule_keeps_the_learning_rate(make_task, tiny, easy_theta, monkeypatch):
    from transformers import Trainer

    seen = []
    real = Trainer.create_scheduler

    def spy(self, num_training_steps, optimizer=None):
        sched = real(self, num_training_steps, optimizer)
        seen.append(sched)
        return sched

    monkeypatch.setattr(Trainer, "create_scheduler", spy)
    config = FinetuneConfig(epochs=1, max_length=16, patience=None, schedule="constant")
    ft.finetune(tiny, make_task(64, 32), theta=easy_theta.replace(warmup_ratio=0.0),
                config=config, progress=False)
    assert seen and seen[0].get_last_lr()[0] == pytest.approx(easy_theta.lr)


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


def test_recipe_sizes_theta_and_epochs_by_model(tiny, tmp_path):
    from bortkit.finetune.engine import SMALL_LR_MAX, SMALL_MIN_EPOCHS, effective_params, recipe
    from bortkit.theta import theta_grid

    thetas, config = recipe(tiny, theta_grid("lr"), FinetuneConfig(epochs=3))
    assert [t.lr for t in thetas] == [SMALL_LR_MAX, 5e-4]  # 2e-3 capped, a duplicate dropped
    assert config.epochs == SMALL_MIN_EPOCHS
    assert recipe(tiny, theta_grid("lr"), FinetuneConfig(epochs=9))[1].epochs == 9
    big = tiny.replace(num_hidden_layers=12, hidden_size=512, intermediate_size=2048,
                       num_attention_heads=8)
    assert effective_params(big) > 5_000_000
    assert recipe(big, theta_grid("lr"), FinetuneConfig()) == (theta_grid("lr"),
                                                               FinetuneConfig())
    big.to_bert_config().save_pretrained(tmp_path / "model")  # a saved folder is read too
    assert effective_params(tmp_path) == effective_params(big)
