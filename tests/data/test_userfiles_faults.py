"""A user's own data file, as a new user brings it: every fault gets one error naming the file
(and the row or line) and what to do; the encoding used, the label mapping and the empty and
repeated texts dropped are reported (docs/your-own-data.md shows these messages)."""

from __future__ import annotations

import codecs
import json
import logging

import pytest

from bortkit.cli import main
from bortkit.data import load_task, load_task_and_report, summarize_task
from bortkit.data.userfiles import MIN_PER_CLASS


def _rows(n: int = 40, *, accent: str = "é") -> list[tuple[str, str]]:
    return [(f"caf{accent} number {i} is {'good' if i % 2 else 'bad'}",
             "pos" if i % 2 else "neg") for i in range(n)]


def _csv(rows) -> str:
    return "text,label\n" + "".join(f"{t},{y}\n" for t, y in rows)


def test_latin1_file_is_read_as_cp1252_with_a_warning(tmp_path, caplog):
    path = tmp_path / "latin1.csv"
    path.write_bytes(_csv(_rows()).encode("latin-1"))
    with caplog.at_level(logging.WARNING):
        dd, report = load_task_and_report(path)
    assert report.encodings == {str(path): "cp1252"}
    assert dd["train"][0]["text"].startswith("café")
    assert any("latin1.csv: not UTF-8 (byte 0xe9 on line 2" in r.message
               and "read as cp1252" in r.message for r in caplog.records)


def test_explicit_encoding_is_used_or_its_failure_named(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(_csv(_rows()).encode("latin-1"))
    assert load_task_and_report(path, encoding="latin-1")[1].encodings == {str(path): "latin-1"}
    with pytest.raises(ValueError, match=r"latin1\.csv: cannot be read as utf-8: byte 0xe9 on "
                       r"line 2 .*--encoding cp1252"):
        load_task(path, encoding="utf-8")
    with pytest.raises(ValueError, match=r"encoding='klingon': unknown encoding"):
        load_task(path, encoding="klingon")
    with pytest.raises(ValueError, match="encoding='utf-8': only for user files"):
        load_task("sms", encoding="utf-8")


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks_decide_the_encoding(tmp_path, codec):
    path = tmp_path / "bom.csv"
    path.write_bytes(_csv(_rows()).encode(codec))
    dd, report = load_task_and_report(path)
    assert report.encodings[str(path)] == codec
    assert dd["train"].features["label"].names == ["neg", "pos"]  # no BOM in the header


@pytest.mark.parametrize("name,content,message", [
    ("empty.csv", b"", r"empty\.csv: the file is empty; a CSV file needs a header line"),
    ("blank.jsonl", b"\n  \n", r"blank\.jsonl: the file is empty; JSON Lines needs one object"),
    ("empty.json", b"", r"empty\.json: the file is empty"),
    ("empty.parquet", b"", r"empty\.parquet: the file is empty"),
    ("header.tsv", b"text\tlabel\n", r"header\.tsv: has a header line \(text, label\) but no "
     r"data rows"),
    ("junk.parquet", b"not parquet", r"junk\.parquet: not a readable parquet file"),
    ("quote.csv", b'text,label\n"a, b,pos\nc,neg\n', r"quote\.csv: not a valid CSV file \(.*\); "
     r"a text that holds the separator"),
    ("fields.csv", b"text,label\na,pos\nb,neg,extra\n", r"fields\.csv: not a valid CSV file "
     r"\(.*Expected 2 fields in line 3, saw 3\)"),
    ("list.jsonl", b'{"text": "a", "label": "x"}\n[1, 2]\n', r"list\.jsonl: line 2 is a JSON "
     r"list, not an object"),
    ("bad.json", b'[{"text": "a", "label": "x"},\n {"text": }]', r"bad\.json: not valid JSON "
     r"\(Expecting value at line 2 column 11\)"),
    ("notes.txt", b"hello", r"notes\.txt: unsupported file type '\.txt'"),
])
def test_unreadable_files_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_task(path)


def test_broken_jsonl_line_is_named(tmp_path):
    lines = [json.dumps({"text": t, "label": y}) for t, y in _rows()]
    lines[6] = '{"text": "broken, "label": "pos"}'
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"broken\.jsonl: line 7 is not valid JSON \(Expecting "
                       r"',' delimiter at column 20\); fix or delete that line"):
        load_task(path)


def test_single_class_is_refused(tmp_path):
    path = tmp_path / "single.csv"
    path.write_text(_csv([(f"text {i}", "pos") for i in range(40)]))
    with pytest.raises(ValueError, match=r"single\.csv: every example has the label 'pos' \(40 "
                       r"rows\); a classification task needs at least two classes, each with "
                       r"at least 10 examples\. Is 'label' the label column\?"):
        load_task(path)


def test_too_few_per_class_states_the_minimum(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text(_csv([(f"text {i}", "neg" if i < 4 else "pos") for i in range(40)]))
    with pytest.raises(ValueError, match=rf"small\.csv: too few examples per class for the "
                       rf"seeded stratified 80/10/10 .*'neg' has 4; every class needs at least "
                       rf"{MIN_PER_CLASS}"):
        load_task(path)
    # carving both validation and test out of a train file needs twice as many
    folder = tmp_path / "given"
    folder.mkdir()
    (folder / "train.csv").write_text(_csv([(f"t {i}", "neg" if i < 15 else "pos")
                                            for i in range(60)]))
    with pytest.raises(ValueError, match=r"train\.csv: .*carving of validation and test out of "
                       r"train: 'neg' has 15; every class needs at least 20"):
        load_task(folder)


def test_exactly_the_minimum_per_class_splits(tmp_path):
    path = tmp_path / "just.csv"
    rows = [(f"t {i}", f"c{i % 3}") for i in range(3 * MIN_PER_CLASS)]
    path.write_text(_csv(rows))
    summary = summarize_task(load_task(path))
    assert all(min(summary.label_counts[s]) >= 1 for s in ("train", "validation", "test"))


def test_empty_and_repeated_texts_dropped_and_counted(tmp_path, caplog):
    rows = [(f"text {i % 30}", "pos" if i % 2 else "neg") for i in range(60)]
    rows += [("text 1", "neg"), ("", "pos"), ("   ", "neg")]  # a conflicting repeat, 2 empty
    path = tmp_path / "dups.csv"
    path.write_text(_csv(rows))
    with caplog.at_level(logging.WARNING):
        dd, report = load_task_and_report(path)
    assert (report.n_rows, report.n_empty, report.n_duplicates, report.n_conflicting) == (
        63, 2, 31, 1)
    assert sum(len(dd[s]) for s in dd) == 30
    assert report.label_mapping == {"neg": 0, "pos": 1}
    messages = " | ".join(r.message for r in caplog.records)
    assert "dups.csv: dropped 2 row(s) with an empty text (e.g. row 63, row 64)" in messages
    assert "dropped 31 repeated text(s) (first copy kept; 1 of them had another label)" in messages


def test_row_precise_label_errors(tmp_path):
    path = tmp_path / "labels.jsonl"
    rows = [{"text": f"t {i}", "label": i % 2 if i != 5 else "two"} for i in range(40)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match=r"labels\.jsonl: labels mix names and integer ids "
                       r"\('two' at line 6, 0 at line 1\); use one kind"):
        load_task(path)
    rows[5] = {"text": "t 5", "label": 0.5}
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match=r"labels\.jsonl: label 0\.5 at line 6 is not a class"):
        load_task(path)
    rows[5] = {"text": "t 5", "label": -1}
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match=r"integer label -1 at line 6"):
        load_task(path)


def test_text_pair_columns_validated(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("q,a,label\n" + "".join(f"q {i},{'' if i == 3 else f'a {i}'},{i % 2}\n"
                                             for i in range(40)))
    dd, report = load_task_and_report(path, text_column="q", text_pair_column="a")
    assert dd["train"].column_names == ["text", "text_pair", "label"] and report.n_empty == 1
    assert report.label_mapping == {"0": 0, "1": 1}  # integer labels read from CSV cells
    with pytest.raises(ValueError, match=r"pairs\.csv: missing column 'b'; available: \['q', "
                       r"'a', 'label'\]\. Name the columns with --text-column"):
        load_task(path, text_column="q", text_pair_column="b")
    with pytest.raises(ValueError, match="each must be a different column"):
        load_task(path, text_column="q", text_pair_column="q")


def test_wrong_separator_gets_a_hint(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("text;label\n" + "".join(f"t {i};{i % 2}\n" for i in range(40)))
    with pytest.raises(ValueError, match=r"semi\.csv: missing columns \['text', 'label'\].*"
                       r"separated by tabs or semicolons"):
        load_task(path)


def test_folder_of_class_subfolders(tmp_path):
    for label in ("ham", "spam"):
        (tmp_path / label).mkdir()
        for i in range(12):
            (tmp_path / label / f"{i}.txt").write_bytes(f"{label} mail {i} ½".encode(
                "cp1252" if i == 0 else "utf-8"))
    dd, report = load_task_and_report(tmp_path)
    assert report.label_mapping == {"ham": 0, "spam": 1} and report.n_rows == 24
    assert report.encodings["ham/0.txt"] == "cp1252" and report.encodings["ham/1.txt"] == "utf-8"
    assert sum(len(dd[s]) for s in dd) == 24


def test_cli_data_reports_encoding_mapping_and_counts(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes((_csv(_rows()) + ",pos\n").encode("latin-1"))
    assert main(["data", str(path), "--json"]) == 0
    user = json.loads(capsys.readouterr().out)["user_data"]
    assert user["encodings"] == {str(path): "cp1252"} and user["n_empty"] == 1
    assert main(["data", str(path), "--encoding", "latin-1"]) == 0
    out = capsys.readouterr().out
    assert "encoding          latin-1" in out and "label mapping     {'neg': 0, 'pos': 1}" in out
    assert main(["data", str(path), "--encoding", "utf-8"]) == 2
    assert "cannot be read as utf-8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", str(path), "--encoding", "nope"])
    assert "argument --encoding: unknown encoding; use a Python codec" in capsys.readouterr().err


def test_utf16_without_bom_is_not_silently_accepted(tmp_path):
    # codecs' UTF-16 without a mark decodes as cp1252 garbage full of NULs: the header does not
    # name the columns, so the error says which columns the file has
    path = tmp_path / "nobom.csv"
    path.write_bytes(_csv(_rows()).encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"nobom\.csv: missing column"):
        load_task(path)
    assert codecs.lookup("utf-16-le")  # the fix the docs give: --encoding utf-16-le
    assert load_task_and_report(path, encoding="utf-16-le")[1].n_rows == 40


def test_json_array_columns_and_parquet_layouts(tmp_path):
    import pandas as pd

    rows = [{"text": t, "label": y} for t, y in _rows()]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    (tmp_path / "b.json").write_text(json.dumps({"text": [r["text"] for r in rows],
                                                 "label": [r["label"] for r in rows]}))
    pd.DataFrame(rows).to_parquet(tmp_path / "c.parquet")
    for name in ("a.json", "b.json", "c.parquet"):
        dd, report = load_task_and_report(tmp_path / name)
        assert report.n_rows == 40 and sum(len(dd[s]) for s in dd) == 40, name
    assert report.encodings == {str(tmp_path / "c.parquet"): "binary (parquet)"}
    rows[1]["label"] = None
    (tmp_path / "a.json").write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"a\.json: 1 missing label\(s\) in column 'label' "
                       r"\(first at record 2\)"):
        load_task(tmp_path / "a.json")
