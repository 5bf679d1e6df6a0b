"""Property-based boundary tests (hypothesis): for any values of a config's fields, or any small
user table, the only outcomes are a valid result or one `ValueError`/`TypeError` that names the
parameter (or the file)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bortkit.agora.experiment import TextAgoraConfig
from bortkit.agora.records import AgoraConfig
from bortkit.arch import ArchSpec
from bortkit.search import FptasConfig

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values a user might pass for a number: good ones, bad ones, wrong types.
ANY = st.one_of(
    st.integers(-3, 70), st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.booleans(), st.none(), st.sampled_from(["", "4", "x", "half", "kl"]),
)


def _named(exc: BaseException, cls: str, fields: dict) -> bool:
    """The message names the record and one of the fields that were set."""
    msg = str(exc)
    return any(name in msg for name in fields) and (cls in msg or "band" in msg)


def _outcome(make, cls: str, fields: dict, changed: dict | None = None):
    try:
        return make(**fields)
    except (ValueError, TypeError) as exc:
        named = _named(exc, cls, fields if changed is None else changed)
        assert named, f"{type(exc).__name__} names no parameter: {exc}"
        return None


@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    name: ANY for name in ("num_hidden_layers", "num_attention_heads", "hidden_size",
                           "intermediate_size", "vocab_size", "max_position_embeddings",
                           "type_vocab_size")}))
def test_archspec_fields(changes):
    fields = {"num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 32,
              "intermediate_size": 64, **changes}
    spec = _outcome(ArchSpec, "ArchSpec", fields, changes)
    if spec is not None:
        assert spec.hidden_size % spec.num_attention_heads == 0 and spec.num_hidden_layers >= 1
        assert ArchSpec.from_dict(spec.to_dict()) == spec


@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    "epsilon": ANY, "s": ANY, "c": ANY, "steps": ANY, "min_steps": ANY, "max_steps": ANY,
    "batch_size": ANY, "seed": ANY, "audit_fraction": ANY, "audit_seed": ANY,
    "param_count": st.sampled_from(["effective", "total", "some"]),
}))
def test_fptas_config(changes):
    config = _outcome(FptasConfig, "FptasConfig", changes)
    if config is not None:
        assert 0 < config.epsilon < 1 and config.budget_steps >= 1
        assert FptasConfig.from_dict(config.to_dict()) == config


@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    "max_rounds": ANY, "samples_per_mistake": ANY, "replay": ANY, "max_mistakes": ANY,
    "augment_last": ANY, "prune": st.sampled_from(["half", "longest-run", "all", 3]),
    "band": st.one_of(st.tuples(ANY, ANY), st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)),
                      st.just((0.5,))),
}))
def test_agora_config(changes):
    config = _outcome(AgoraConfig, "AgoraConfig", changes)
    if config is not None:
        assert -1 <= config.band[0] <= config.band[1] <= 1
        assert AgoraConfig.from_dict(config.to_dict()) == config


@SETTINGS
@given(st.fixed_dictionaries({}, optional={
    "learner": st.sampled_from(["head", "finetune", "svm"]), "train_size": ANY,
    "dev_size": ANY, "test_size": ANY, "labeller_size": ANY, "n_thetas": ANY,
    "head_epochs": ANY, "max_tries": ANY, "theta_preset": st.sampled_from(["cpu", "smoke", "x"]),
    "agora": st.sampled_from([AgoraConfig(), {"prune": "half"}]),
}))
def test_text_agora_config(changes):
    config = _outcome(TextAgoraConfig, "TextAgoraConfig", changes)
    if config is not None:
        assert config.train_size >= 1 and config.learner in ("student", "head", "finetune")
        assert TextAgoraConfig.from_dict(config.to_dict()) == config


# --- user tables ----------------------------------------------------------------------------

TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "Zs"),
                             whitelist_characters=",\"\n'", max_codepoint=0x2FF),
               max_size=12)
LABEL = st.one_of(st.sampled_from(["pos", "neg", "neu"]), st.integers(0, 2))
ODD_LABEL = st.one_of(LABEL, st.none(), st.just(""), st.just(1.5), st.just(-1))
ROW = st.tuples(st.one_of(TEXT, st.none()), ODD_LABEL)


@st.composite
def near_valid(draw) -> list:
    """A table that is often valid: 2-3 classes of 9-16 unique texts each (a class under 10
    fails the split minimum), label names or ids, and a few odd rows mixed in."""
    names = draw(st.sampled_from([["neg", "pos"], ["a", "b", "c"], [0, 1], [0, 1, 2]]))
    rows = [(f"{draw(TEXT)} #{k}-{i}", name) for k, name in enumerate(names)
            for i in range(draw(st.integers(9, 16)))]
    for odd in draw(st.lists(ROW, max_size=2)):
        rows.insert(draw(st.integers(0, len(rows))), odd)
    return draw(st.permutations(rows))


def _write(path, rows, fmt: str, encoding: str) -> None:
    if fmt == "jsonl":
        text = "\n".join(json.dumps({"text": t, "label": y}, ensure_ascii=False)
                         for t, y in rows)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",")
        writer.writerow(["text", "label"])
        writer.writerows([("" if t is None else t, "" if y is None else y) for t, y in rows])
        text = buf.getvalue()
    path.write_bytes(text.encode(encoding, errors="replace"))


@SETTINGS
@given(rows=st.one_of(st.lists(ROW, max_size=6), near_valid()),
       fmt=st.sampled_from(["csv", "tsv", "jsonl"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
def test_user_tables(tmp_path_factory, rows, fmt, encoding):
    from bortkit.data import load_task_and_report

    path = tmp_path_factory.mktemp("table") / f"data.{fmt}"
    _write(path, rows, fmt, encoding)
    try:
        dd, report = load_task_and_report(path)
    except ValueError as exc:
        assert str(exc).startswith(str(path)), f"the error names no file: {exc}"
        return
    kept = sum(len(dd[s]) for s in dd)
    assert kept == report.n_rows - report.n_empty - report.n_duplicates
    assert all(len(dd[s]) for s in dd)
    names = dd["train"].features["label"].names
    assert report.label_mapping == {n: i for i, n in enumerate(names)}
    assert len(set(dd["train"]["label"])) >= 2


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_user_table_round_trip_example(tmp_path, encoding):
    """A plain, valid table goes through for each encoding the detector may choose."""
    from bortkit.data import load_task_and_report

    path = tmp_path / "ok.csv"
    _write(path, [(f"texte n°{i} – ok", i % 2) for i in range(40)], "csv", encoding)
    dd, report = load_task_and_report(path)
    assert report.encodings[str(path)] == encoding and report.label_mapping == {"0": 0, "1": 1}
