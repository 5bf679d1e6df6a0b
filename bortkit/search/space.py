"""Search spaces Ξ: grids over the paper's architectural parameters (D, A, H, I).

A `SearchSpace` is the FPTAS's input set of candidate shapes; its presets are the Bort paper's
300-shape space, a 2-core-sized space (project choice) and a tiny one for smoke runs and tests.
It lives with the search, not with `bortkit.arch`, because it changes when the search's
experiments change, while `arch` (one shape and its counts) changes only with the model family.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator

from bortkit.arch import ArchSpec
from bortkit.records import Record, check_positive_int

_AXES = ("layers", "heads", "hidden", "intermediate")


@dataclass(frozen=True)
class SearchSpace(Record):
    """A grid Ξ over (D, A, H, I); combinations with H not divisible by A are dropped.

    The embedding sizes are shared by every candidate (they are not searched in the papers).

    Args:
        layers: values of D (`num_hidden_layers`).
        heads: values of A (`num_attention_heads`).
        hidden: values of H (`hidden_size`).
        intermediate: values of I (`intermediate_size`).
        vocab_size, max_position_embeddings, type_vocab_size: the shared embedding sizes.
        name: the space's name (part of every results-store key).
    """

    layers: tuple[int, ...]
    heads: tuple[int, ...]
    hidden: tuple[int, ...]
    intermediate: tuple[int, ...]
    vocab_size: int = 30522
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    name: str = "custom"

    def __post_init__(self) -> None:
        for axis in _AXES:
            values = getattr(self, axis)
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"SearchSpace.{axis} must be a non-empty tuple, got {values!r}")
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise ValueError(
                        f"SearchSpace.{axis} holds {v!r}; values must be positive ints"
                    )
        for name in ("vocab_size", "max_position_embeddings", "type_vocab_size"):
            check_positive_int(f"SearchSpace.{name}", getattr(self, name))
        if not self.specs():
            raise ValueError(
                f"SearchSpace {self.name!r} is empty: no hidden size in {self.hidden} is "
                f"divisible by any head count in {self.heads}"
            )

    def specs(self) -> list[ArchSpec]:
        """Every valid architecture of the grid, in (D, A, H, I) order."""
        grid = itertools.product(self.layers, self.heads, self.hidden, self.intermediate)
        sizes = (self.vocab_size, self.max_position_embeddings, self.type_vocab_size)
        return [ArchSpec(d, a, h, i, *sizes) for d, a, h, i in grid if h % a == 0]

    def __iter__(self) -> Iterator[ArchSpec]:
        return iter(self.specs())

    def __len__(self) -> int:
        return len(self.specs())

    @classmethod
    def paper(cls) -> SearchSpace:
        """The Bort paper's space: 300 candidates (BPE vocabulary, one token type)."""
        return cls(
            layers=(2, 4, 6, 8, 10, 12),
            heads=(4, 8, 12, 16),
            hidden=(512, 768, 1024),
            intermediate=(256, 512, 768, 1024, 3072),
            vocab_size=50265,
            type_vocab_size=1,
            name="paper",
        )

    @classmethod
    def cpu_default(cls) -> SearchSpace:
        """A 2-core-sized space in the teacher's WordPiece vocabulary (project choice)."""
        return cls(
            layers=(1, 2, 4),
            heads=(2, 4, 8),
            hidden=(64, 128, 256),
            intermediate=(128, 256, 512),
            max_position_embeddings=128,
            name="cpu",
        )

    @classmethod
    def tiny(cls) -> SearchSpace:
        """A handful of very small shapes for smoke runs and tests."""
        return cls(
            layers=(1, 2),
            heads=(2, 4),
            hidden=(32, 64),
            intermediate=(64, 128),
            max_position_embeddings=64,
            name="tiny",
        )

    @classmethod
    def named(cls, name: str) -> SearchSpace:
        """A preset space by name: ``paper``, ``cpu`` or ``tiny``."""
        table = {"paper": cls.paper, "cpu": cls.cpu_default, "tiny": cls.tiny}
        try:
            return table[name]()
        except KeyError:
            raise ValueError(
                f"unknown search space {name!r}; valid spaces: {', '.join(table)}"
            ) from None


__all__ = ["SearchSpace"]
