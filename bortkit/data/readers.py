"""Reading a user's data file into a table whose rows know where they came from.

`read_table(path)` decodes the bytes (`decode`: the encodings rule below), parses CSV / TSV /
JSON Lines / JSON / parquet, and returns a `Table`: a pandas DataFrame whose index names each
row's place in the file (``row 5`` for CSV/TSV, counted like a spreadsheet, the header being
row 1; ``line 7`` for JSON Lines; ``record 3`` for a JSON array; ``row 3`` for parquet), so
every later error can point at the row. `read_class_folders(path)` reads a folder of class
sub-folders of ``.txt`` files (label = sub-folder name).

The encodings rule (docs/your-own-data.md): with an explicit `encoding` the file must decode
with it. Without one: a byte-order mark decides (UTF-8, UTF-16, UTF-32); else strict UTF-8;
else cp1252 (Windows' Western European superset of Latin-1, so smart quotes and the euro sign
survive), else Latin-1 (decodes any byte). A fallback is logged as a warning naming the file and
the first byte that was not UTF-8; the encoding used is returned either way.

Every error is a `ValueError` (or `FileNotFoundError`) that starts with the file and says what
to do. pandas is imported lazily.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - type names only; pandas loads lazily
    import pandas as pd

logger = logging.getLogger(__name__)

FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
FALLBACK_ENCODINGS = ("cp1252", "latin-1")  # tried in order after UTF-8 (documented rule)
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADER_HINT = "the first line must name the columns, e.g. text,label"


@dataclass
class Table:
    """A parsed file: the frame (index = each row's place), the encoding used, the format."""

    frame: pd.DataFrame
    encoding: str
    kind: str


def check_encoding(encoding: str | None) -> str | None:
    """`encoding` itself when Python knows the codec (None: detect); else a `ValueError`."""
    if encoding is None:
        return None
    if not isinstance(encoding, str) or not encoding.strip():
        raise ValueError(f"encoding={encoding!r}: give a codec name such as utf-8, cp1252 or "
                         "latin-1, or leave it out to detect the encoding")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"encoding={encoding!r}: unknown encoding; use a Python codec name "
                         "such as utf-8, utf-16, cp1252 or latin-1") from None
    return encoding


def _bad_byte(path: Path, raw: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    line = raw[:exc.start].count(b"\n") + 1
    return f"byte 0x{raw[exc.start]:02x} on line {line} is not valid {encoding}"


def decode(path: str | os.PathLike[str], raw: bytes, encoding: str | None = None
           ) -> tuple[str, str]:
    """(text, encoding used) of a file's bytes, by `encoding` or by the module's rule.

    Raises:
        ValueError: `encoding` is unknown, or the bytes do not decode with it.
    """
    path = Path(path)
    if check_encoding(encoding) is not None:
        name = codecs.lookup(encoding).name
        codec = "utf-8-sig" if name == "utf-8" else encoding  # a BOM is never part of a text
        try:
            return raw.decode(codec), encoding
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: cannot be read as {encoding}: {_bad_byte(path, raw, exc, encoding)}; "
                "pass the file's real encoding (e.g. --encoding cp1252), or leave --encoding "
                "out to detect it"
            ) from None
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{path}: starts with a {codec} byte-order mark but "
                    f"{_bad_byte(path, raw, exc, codec)}; re-save the file as UTF-8"
                ) from None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = _bad_byte(path, raw, exc, "UTF-8")
    for codec in FALLBACK_ENCODINGS:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        logger.warning("%s: not UTF-8 (%s); read as %s. If accented letters look wrong, "
                       "pass the real encoding (--encoding / encoding=...)", path, first_bad,
                       codec)
        return text, codec
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _empty(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: the file is empty; {what}")


def _csv(path: Path, text: str, sep: str) -> pd.DataFrame:
    import pandas as pd

    kind = "TSV" if sep == "\t" else "CSV"
    if not text.strip():
        raise _empty(path, f"a {kind} file needs a header line and one row per example "
                     f"({_HEADER_HINT})")
    try:
        # Every cell as a string, an empty cell as "": a text is never turned into a number or
        # NaN behind the user's back; integer labels are recognised later.
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"{path}: not a valid {kind} file ({str(exc).strip()}); a text that holds the "
            f"separator, a quote or a line break must be in double quotes"
        ) from None
    if len(df) == 0:
        raise ValueError(f"{path}: has a header line ({', '.join(map(str, df.columns))}) but "
                         "no data rows; add one row per example")
    df.index = [f"row {i + 2}" for i in range(len(df))]
    return df


def _records(path: Path, rows: list[Any], where: list[str]) -> pd.DataFrame:
    import pandas as pd

    for row, loc in zip(rows, where):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: {loc} is a JSON {type(row).__name__}, not an object; "
                             'write one object per example, e.g. {"text": "...", "label": "..."}')
    df = pd.DataFrame.from_records(rows)
    df.index = where
    return df


def _jsonl(path: Path, text: str) -> pd.DataFrame:
    rows, where = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {n} is not valid JSON ({exc.msg} at column "
                             f"{exc.colno}); fix or delete that line (JSON Lines: one object "
                             "per line)") from None
        where.append(f"line {n}")
    if not rows:
        raise _empty(path, 'JSON Lines needs one object per line, e.g. {"text": "...", '
                     '"label": "..."}')
    return _records(path, rows, where)


def _json(path: Path, text: str) -> pd.DataFrame:
    if not text.strip():
        raise _empty(path, 'write a JSON array of objects, e.g. [{"text": "...", "label": '
                     '"..."}], or use .jsonl')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) > 1 and all(ln.lstrip().startswith("{") for ln in lines):
            return _jsonl(path, text)  # JSON Lines saved as .json
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}); fix the file, or save one object per line as "
                         ".jsonl") from None
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) != 1:
            raise ValueError(f"{path}: a JSON object of columns needs columns of equal length, "
                             f"got lengths {sorted(lengths)}")
        n = lengths.pop()
        data = [{k: v[i] for k, v in data.items()} for i in range(n)]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON array of objects (one per example), got a "
                         f"JSON {type(data).__name__}")
    if not data:
        raise ValueError(f"{path}: the JSON array is empty; add one object per example")
    return _records(path, data, [f"record {i + 1}" for i in range(len(data))])


def _parquet(path: Path, raw: bytes) -> pd.DataFrame:
    import pandas as pd

    if not raw:
        raise _empty(path, "write the table with pandas' DataFrame.to_parquet")
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise ValueError(f"{path}: not a readable parquet file ({type(exc).__name__}: "
                         f"{exc}); re-export it, or save it as CSV") from None
    if len(df) == 0:
        raise ValueError(f"{path}: the parquet table has no rows; add one row per example")
    df.index = [f"row {i + 1}" for i in range(len(df))]
    return df


def read_table(path: str | os.PathLike[str], *, encoding: str | None = None) -> Table:
    """Parse one data file (suffix: .csv, .tsv, .jsonl, .json, .parquet) into a `Table`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unsupported suffix, an empty or unparsable file, or an encoding error;
            the message names the file (and the line where there is one) and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {path.suffix!r}; use one of "
                         f"{', '.join(FILE_SUFFIXES)}")
    raw = path.read_bytes()
    if suffix == ".parquet":
        check_encoding(encoding)  # still refuse a misspelt codec
        return Table(_parquet(path, raw), "binary (parquet)", "parquet")
    text, used = decode(path, raw, encoding)
    if suffix in (".csv", ".tsv"):
        frame = _csv(path, text, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".jsonl":
        frame = _jsonl(path, text)
    else:
        frame = _json(path, text)
    return Table(frame, used, suffix[1:])


def class_folders(path: Path) -> list[Path]:
    """The sub-folders of `path` holding ``.txt`` files (a folder-of-classes layout)."""
    return sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.txt")))


def read_class_folders(path: str | os.PathLike[str], *, encoding: str | None = None
                       ) -> tuple[pd.DataFrame, dict[str, str]]:
    """A folder of class sub-folders as (frame with ``text``/``label``, file → encoding).

    Each ``<class>/<name>.txt`` is one example whose label is the sub-folder's name; the row's
    place is ``<class>/<name>.txt``.
    """
    import pandas as pd

    path = Path(path)
    rows, where, used = [], [], {}
    for folder in class_folders(path):
        for file in sorted(folder.glob("*.txt")):
            text, enc = decode(file, file.read_bytes(), encoding)
            rel = f"{folder.name}/{file.name}"
            rows.append({"text": text, "label": folder.name})
            where.append(rel)
            used[rel] = enc
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame.index = where
    return frame, used


def is_missing(value: Any) -> bool:
    """None, NaN or a blank string (a cell left empty)."""
    if value is None or type(value).__name__ == "NAType":  # pandas.NA, without importing it
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


__all__ = [
    "FALLBACK_ENCODINGS",
    "FILE_SUFFIXES",
    "Table",
    "check_encoding",
    "class_folders",
    "decode",
    "is_missing",
    "read_class_folders",
    "read_table",
]
