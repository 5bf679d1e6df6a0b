"""Bort's headline claims next to what bortkit computes and measures.

`size_rows` gives the exact parameter breakdown of each model (HF `BertModel` with pooler) and
its net / effective fraction of a reference (the paper uses BERT-large); `size_frame` shows it
as a pandas DataFrame. `paper_comparison` lines the speed-ups of a `ProfileReport` and the size
fractions up against `PAPER_CLAIMS`, the numbers the papers report.

Nothing here measures: it reads the records of `bortkit.measure.records` (timing lives in
`bortkit.measure.latency`). pandas is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Mapping, Sequence

from bortkit import arch
from bortkit.arch import ArchSpec
from bortkit.measure.records import ProfileReport, resolve_model
from bortkit.records import Record


@dataclass(frozen=True)
class SizeRow(Record):
    """Parameter counts of one model (HF `BertModel` with pooler) and its fractions of a reference.

    `effective` excludes the embedding layer (the paper's "effective size", see
    `arch.ParamCount.effective`); fractions are of `reference` (the paper uses BERT-large).
    """

    name: str
    spec: ArchSpec
    total: int
    embeddings: int
    encoder: int
    pooler: int
    effective: int
    net_fraction: float
    effective_fraction: float
    reference: str


def size_rows(
    names_or_specs: Iterable[ArchSpec | str], *, reference: ArchSpec | str = "bert-large"
) -> tuple[SizeRow, ...]:
    """Exact size breakdown of each model and its net / effective fraction of `reference`."""
    ref_name, ref = resolve_model(reference)
    rows = []
    for item in names_or_specs:
        name, spec = resolve_model(item)
        c = arch.count_params(spec)
        frac = arch.size_fractions(spec, ref)
        rows.append(
            SizeRow(
                name=name,
                spec=spec,
                total=c.total,
                embeddings=c.embeddings,
                encoder=c.encoder,
                pooler=c.pooler,
                effective=c.effective,
                net_fraction=frac["net"],
                effective_fraction=frac["effective"],
                reference=ref_name,
            )
        )
    return tuple(rows)


def size_frame(rows: Sequence[SizeRow]) -> Any:
    """`size_rows` as a pandas DataFrame indexed by name (counts in millions)."""
    import pandas as pd

    frame = pd.DataFrame([r.to_dict() for r in rows]).drop(columns="spec").set_index("name")
    for col in ("total", "embeddings", "encoder", "pooler", "effective"):
        frame[col] = frame[col] / 1e6
    return frame.rename(
        columns={c: f"{c}_M" for c in ("total", "embeddings", "encoder", "pooler", "effective")}
    )


# paper (a) abstract and alexa/bort README ([S3], [S8] in bort-papers.md). The papers do not
# say which CPU, batch size, sequence length or thread count the speed-ups were measured at.
PAPER_CLAIMS: dict[str, float] = {
    "speedup_vs_bert-base": 7.9,
    "speedup_vs_bert-large": 20.0,
    "speedup_vs_roberta-large": 20.0,
    "effective_fraction": 0.055,
    "net_fraction": 0.16,
}


@dataclass(frozen=True)
class ComparisonRow(Record):
    """One headline number: the paper's value next to ours (None when not measured)."""

    # `ratio` is derived; `to_dict` writes it for readers of the JSON, `from_dict` drops it.
    _DERIVED: ClassVar[tuple[str, ...]] = ("ratio",)

    model: str
    metric: str
    paper: float
    measured: float | None

    @property
    def ratio(self) -> float | None:
        """measured / paper (1.0 = the paper's number reproduced)."""
        return None if self.measured is None else self.measured / self.paper

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "ratio": self.ratio}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonRow:
        if not isinstance(data, Mapping):
            raise TypeError(f"ComparisonRow.from_dict needs a mapping, got {type(data).__name__}")
        return super().from_dict({k: v for k, v in data.items() if k not in cls._DERIVED})


@dataclass(frozen=True)
class PaperComparison(Record):
    """Our speed-ups and size fractions for the Bort shapes next to the papers' claims."""

    rows: tuple[ComparisonRow, ...]
    seq_len: int | None
    batch_size: int | None
    threads: int | None

    def value(self, model: str, metric: str) -> float | None:
        for row in self.rows:
            if row.model == model and row.metric == metric:
                return row.measured
        raise ValueError(f"no row for model={model!r}, metric={metric!r}")

    def by_metric(self, metric: str) -> dict[str, float | None]:
        """{model: measured} for one metric, e.g. ``"net_fraction"``."""
        if metric not in PAPER_CLAIMS:
            raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(PAPER_CLAIMS)}")
        return {r.model: r.measured for r in self.rows if r.metric == metric}

    def to_frame(self) -> Any:
        """One row per (model, metric): paper, measured, measured/paper."""
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows]).set_index(["model", "metric"])


def paper_comparison(
    report: ProfileReport, *, models: Sequence[str] = ("bort", "bort-paper-table")
) -> PaperComparison:
    """Line up `PAPER_CLAIMS` with what `report` measured, for each Bort shape in `models`.

    Size fractions are exact and need no measurement: they are filled for every model that is
    in `report` or is a preset. Speed-ups are filled only when both the model and the reference
    were measured; otherwise `measured` is None.
    """
    rows = []
    lats = report.latencies[0] if report.latencies else None
    for model in models:
        if model in report.names:
            spec = report.get(model).spec
        elif model in arch.PRESETS:
            spec = arch.PRESETS[model]
        else:
            raise ValueError(f"model {model!r} is neither in the report nor a preset")
        for metric, claim in PAPER_CLAIMS.items():
            if metric.startswith("speedup_vs_"):
                ref = metric.removeprefix("speedup_vs_")
                ok = model in report.names and ref in report.names
                measured = report.speedup(model, over=ref) if ok else None
            else:
                frac = arch.size_fractions(spec, arch.PRESETS["bert-large"])
                measured = frac[metric.removesuffix("_fraction")]
            rows.append(ComparisonRow(model=model, metric=metric, paper=claim, measured=measured))
    return PaperComparison(
        rows=tuple(rows),
        seq_len=None if lats is None else lats.seq_len,
        batch_size=None if lats is None else lats.batch_size,
        threads=None if lats is None else lats.threads,
    )


__all__ = [
    "PAPER_CLAIMS",
    "ComparisonRow",
    "PaperComparison",
    "SizeRow",
    "paper_comparison",
    "size_frame",
    "size_rows",
]
