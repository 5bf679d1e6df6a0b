"""Small, exact examples for the teaching walkthrough (notebook 00_tour).

The article's toy network: two fully connected layers whose architectural parameters are
written (2, 4, 3, 4, 4) — two layers, of shapes 4×3 and 4×4 — and whose extracted
subarchitecture is (2, 3, 3, 3, 2), shapes 3×3 and 3×2. The article's caption counts
2(4·3 + 4 + 4·4 + 4) = 72 parameters before and 2(3·3 + 3 + 3·2 + 2) = 40 after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bortkit import arch
from bortkit.records import Record
from bortkit.search import baselines, fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import Evaluator
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace


@dataclass(frozen=True)
class ToyNetwork(Record):
    """Architectural parameters of a stack of dense layers, in the article's notation.

    `xi = (n_layers, m_1, n_1, m_2, n_2, ...)`: the number of layers, then each layer's
    m×n weight shape.
    """

    xi: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.xi or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0
                              for v in self.xi):
            raise ValueError(f"ToyNetwork.xi must be positive ints, got {self.xi!r}")
        if len(self.xi) != 1 + 2 * self.xi[0]:
            raise ValueError(
                f"ToyNetwork.xi={self.xi!r}: {self.xi[0]} layers need {1 + 2 * self.xi[0]} "
                "numbers (n_layers, then m, n per layer)"
            )

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        body = self.xi[1:]
        return tuple((body[2 * k], body[2 * k + 1]) for k in range(self.xi[0]))


def article_param_count(net: ToyNetwork) -> int:
    """The article caption's count: 2 · Σ_k (m_k·n_k + b_k).

    The bias term b_k follows the caption as printed: the first layer adds m (4×3 → +4,
    3×3 → +3) and every later layer adds n (4×4 → +4, 3×2 → +2). The leading factor 2 is the
    caption's; it does not change the ratio 40/72 that the example is about.
    """
    total = 0
    for k, (m, n) in enumerate(net.shapes):
        total += m * n + (m if k == 0 else n)
    return 2 * total


ARTICLE_SOURCE = ToyNetwork((2, 4, 3, 4, 4))
ARTICLE_EXTRACTED = ToyNetwork((2, 3, 3, 3, 2))


@dataclass(frozen=True)
class AbncRow(Record):
    """Cost of the A (embeddings), B (one encoder layer) and C (pooler) parts of a spec.

    The AB^nC property asks that A and C grow more slowly than every B: per-token cost of A
    is a table lookup, while each B costs O(H² + HI) multiply-adds per token.
    """

    label: str
    a_params: int
    b_params: int
    c_params: int
    a_ops: int
    b_ops: int
    c_ops: int


def abnc_costs(specs: Sequence[arch.ArchSpec], *, seq_len: int = 128) -> tuple[AbncRow, ...]:
    """Parameters and operations of the A, B and C parts of each spec (exact, from `arch`)."""
    rows = []
    for spec in specs:
        n = min(seq_len, spec.max_position_embeddings)
        counts = arch.count_params(spec)
        one = arch.count_ops(spec.replace(num_hidden_layers=1), seq_len=n)
        two = arch.count_ops(spec.replace(num_hidden_layers=2), seq_len=n)
        b_ops = two.total - one.total
        c_ops = 2 * spec.H * spec.H + spec.H  # pooler dense + tanh on one token
        rows.append(AbncRow(spec.label, counts.embeddings, arch.layer_params(spec.H, spec.I),
                            counts.pooler, one.total - b_ops - c_ops, b_ops, c_ops))
    return tuple(rows)


@dataclass(frozen=True)
class EpsilonSweep(Record):
    """The FPTAS against exhaustive search on one evaluator, for several ε."""

    epsilons: tuple[float, ...]
    n_space: int
    n_trained: tuple[int, ...]  # representatives per ε (the audit's members not counted)
    w_ratio: tuple[float, ...]  # W(FPTAS choice) / W(exhaustive choice); goal >= 1 - ε
    chosen: tuple[str, ...]
    exhaustive_chosen: str


def epsilon_sweep(
    space: SearchSpace,
    config: FptasConfig,
    *,
    evaluator: Evaluator,
    epsilons: Sequence[float],
) -> tuple[EpsilonSweep, FptasResult]:
    """Run exhaustive search once and the FPTAS per ε under the same budget and Θ.

    `config` gives the budget and Θ; its ε is replaced by each of `epsilons` in turn.
    Returns the sweep record and the exhaustive result (its front is the reference).
    """
    if not epsilons:
        raise ValueError("epsilon_sweep: epsilons must not be empty")
    best = baselines.exhaustive(space, config, evaluator=evaluator, progress=False)
    n_trained, ratios, chosen = [], [], []
    for eps in epsilons:
        res = fptas.search(space, config.replace(epsilon=float(eps)), evaluator=evaluator,
                           progress=False)
        # The tour shows what trimming saves, so the audit's extra members are left out.
        n_trained.append(res.n_trained - res.n_audited)
        ratios.append(float(res.chosen.w) / float(best.chosen.w))
        chosen.append(res.chosen.spec.label)
    sweep = EpsilonSweep(tuple(float(e) for e in epsilons), best.n_space, tuple(n_trained),
                         tuple(ratios), tuple(chosen), best.chosen.spec.label)
    return sweep, best


__all__ = [
    "ARTICLE_EXTRACTED",
    "ARTICLE_SOURCE",
    "AbncRow",
    "EpsilonSweep",
    "ToyNetwork",
    "abnc_costs",
    "article_param_count",
    "epsilon_sweep",
]
