"""Small, exact examples for the teaching walkthrough (notebook 00_tour).

The article's toy network: two fully connected layers whose architectural parameters are
written (2, 4, 3, 4, 4) — two layers, of shapes 4×3 and 4×4 — and whose extracted
subarchitecture is (2, 3, 3, 3, 2), shapes 3×3 and 3×2. The article's caption counts
2(4·3 + 4 + 4·4 + 4) = 72 parameters before and 2(3·3 + 3 + 3·2 + 2) = 40 after.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToyNetwork:
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

__all__ = ["ARTICLE_EXTRACTED", "ARTICLE_SOURCE", "ToyNetwork", "article_param_count"]
