"""bortkit.finetune.classifier: Bort's head dropout, mean pooling (the masked mean, padding-proof),
loading checks, and prediction with an exported model (a first-token one reloads with
`AutoModelForSequenceClassification`, a mean-pooled one with `load_finetuned`)."""

from __future__ import annotations

import pytest

from bortkit import finetune as ft
from bortkit.finetune.classifier import add_head_dropout, load_finetuned, set_pooling

pytestmark = pytest.mark.usefixtures("one_thread")


def test_head_dropout_only_in_training(tiny):
    import torch
    from transformers import BertForSequenceClassification

    config = tiny.to_bert_config(num_labels=2, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    torch.manual_seed(0)
    plain = BertForSequenceClassification(config)
    hooked = add_head_dropout(BertForSequenceClassification(config), p=0.5)
    hooked.load_state_dict(plain.state_dict())
    ids = torch.randint(5, 1000, (4, 10))
    plain.eval(), hooked.eval()
    assert torch.allclose(plain(ids).logits, hooked(ids).logits)
    plain.train(), hooked.train()
    assert torch.allclose(plain(ids).logits, plain(ids).logits)  # no other dropout is active
    assert not torch.allclose(hooked(ids).logits, hooked(ids).logits)
    assert set(hooked.state_dict()) == set(plain.state_dict())  # names unchanged


def test_checkpoint_with_other_num_labels(trained):
    with pytest.raises(ValueError, match="classifier for num_labels=2, but the task has 3"):
        ft.load_classifier(trained.model_dir, label_names=["a", "b", "c"])


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        ft.load_classifier(tmp_path, label_names=["a", "b"])


def test_export_reloads_with_auto_class(tmp_path, make_task, tiny, easy_theta):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # Bort's first-token head: the export is a plain HF classifier
    config = ft.FinetuneConfig(epochs=2, max_length=16, patience=None, threads=1,
                               pooling="first")
    first = ft.finetune(tiny, make_task(), theta=easy_theta, config=config,
                        output_dir=tmp_path / "m", progress=False)
    model = AutoModelForSequenceClassification.from_pretrained(first.model_dir).eval()
    tok = AutoTokenizer.from_pretrained(first.model_dir)
    assert model.config.id2label == {0: "bad", 1: "good"} and model.config.pooling == "first"
    texts = ["good movie plot red", "bad long short plot"]
    with torch.no_grad():
        probs = model(**tok(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    pred = ft.predict(first.model_dir, texts)
    assert torch.allclose(probs, torch.tensor(pred.probs), atol=1e-5)
    same = ft.predict(model, texts, tokenizer=tok, batch_size=1)
    assert same.labels == pred.labels


def test_mean_pooled_export_reloads_with_its_pooling(trained):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = ["good movie plot red", "bad long short plot"]
    pred = ft.predict(trained.model_dir, texts)  # the default pooling: mean
    assert pred.labels == (1, 0)
    model = load_finetuned(trained.model_dir).eval()
    tok = AutoTokenizer.from_pretrained(trained.model_dir)
    with torch.no_grad():
        probs = model(**tok(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    assert torch.allclose(probs, torch.tensor(pred.probs), atol=1e-5)
    plain = AutoModelForSequenceClassification.from_pretrained(trained.model_dir).eval()
    with torch.no_grad():  # plain HF loading would silently pool the first token
        other = plain(**tok(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    assert not torch.allclose(probs, other, atol=1e-5)


def test_mean_pooling_is_the_masked_mean(tiny):
    import torch
    from transformers import BertForSequenceClassification

    config = tiny.to_bert_config(num_labels=2, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    model = set_pooling(BertForSequenceClassification(config), "mean").eval()
    ids = torch.tensor([[101, 2204, 3185, 102, 0, 0], [101, 2919, 2146, 2460, 4180, 102]])
    mask = (ids != 0).long()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        want = model.classifier(model.bert.pooler.activation(model.bert.pooler.dense(mean)))
        alone = model(input_ids=ids[:1, :4], attention_mask=mask[:1, :4]).logits
    assert torch.allclose(logits, want, atol=1e-5)
    assert torch.allclose(logits[:1], alone, atol=1e-5)  # padding does not move the mean
    assert model.config.pooling == "mean"
    with pytest.raises(ValueError, match="pooling"):
        set_pooling(model, "max")
    with pytest.raises(ValueError, match="already pools"):
        set_pooling(model, "first")


def test_predict_argument_checks(trained):
    with pytest.raises(TypeError, match="not one string"):
        ft.predict(trained.model_dir, "good movie")
    with pytest.raises(ValueError, match="tokenizer is required"):
        ft.predict(object(), ["good movie"])


def test_resolve_checkpoint_and_arch_of(tmp_path, tiny):
    assert ft.resolve_checkpoint("") is None and ft.resolve_checkpoint(tmp_path) is None
    tiny.to_bert_config().save_pretrained(tmp_path / "model")
    assert ft.resolve_checkpoint(tmp_path) == tmp_path / "model"
    assert ft.arch_of(tmp_path / "model") == tiny
