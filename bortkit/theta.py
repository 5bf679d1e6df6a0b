"""Fine-tuning hyperparameter sets Θ: the `Theta` record, grids over its axes, and presets.

A θ is one (seed, learning rate, weight decay, warm-up ratio, batch size) setting of
`bortkit.finetune.engine.finetune`; a Θ is a tuple of them. `make_grid` builds the Cartesian product
of given axes; `theta_grid(name)` returns one of `THETA_PRESETS`: "bort" (the Bort README's
480-set grid), "cpu", "lr" and "smoke" (project choices for 2 CPU cores).

No heavy imports: `import bortkit.theta` needs only the standard library.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Theta:
    """One fine-tuning hyperparameter set θ (the axes of the Bort README grid).

    Args:
        seed: seeds model-head initialisation, dropout and the data order.
        lr: peak learning rate.
        weight_decay: decoupled AdamW decay, multiplied by the learning rate each step.
        warmup_ratio: fraction of all training steps spent warming up linearly, in [0, 1).
        batch_size: training examples per step.
    """

    seed: int = 0
    lr: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    batch_size: int = 16

    def __post_init__(self) -> None:
        for name in ("seed", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Theta.{name} must be an int, got {value!r}")
        if self.seed < 0:
            raise ValueError(f"Theta.seed must be >= 0, got {self.seed}")
        if self.batch_size < 1:
            raise ValueError(f"Theta.batch_size must be >= 1, got {self.batch_size}")
        for name in ("lr", "weight_decay", "warmup_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Theta.{name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"Theta.lr must be a positive finite number, got {self.lr}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"Theta.weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"Theta.warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")

    @property
    def label(self) -> str:
        """Short unique label, e.g. ``"s0-lr5e-05-wd0-wu0.1-bs16"`` (also a folder name)."""
        return (f"s{self.seed}-lr{self.lr:g}-wd{self.weight_decay:g}-wu{self.warmup_ratio:g}"
                f"-bs{self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Theta:
        return cls(**data)


# The Bort README's recommended initial Agora grid (5·3·4·4·2 = 480 sets), and CPU scalings.
# project choice ("cpu"): Bort fine-tunes 50-100 epochs with 1 ramp-up epoch; on 2 cores we run
# a few epochs, so learning rates are higher, warm-up shorter, and weight decay small (Bort's
# 10-350 times lr per step would erase a briefly trained model).
THETA_PRESETS: dict[str, dict[str, tuple]] = {
    "bort": dict(seeds=(0, 1, 2, 3, 4), lrs=(1e-4, 1e-5, 9e-6), weight_decays=(0, 10, 100, 350),
                 warmup_ratios=(0.35, 0.40, 0.45, 0.50), batch_sizes=(8, 16)),
    "cpu": dict(seeds=(0, 1), lrs=(2e-4, 5e-5), weight_decays=(0.0, 0.01),
                warmup_ratios=(0.1,), batch_sizes=(16,)),
    # the comparison in notebook 04: each model tuned over three learning rates
    "lr": dict(seeds=(0,), lrs=(2e-4, 1e-4, 5e-5), weight_decays=(0.01,), warmup_ratios=(0.1,),
               batch_sizes=(16,)),
    "smoke": dict(seeds=(0, 1), lrs=(5e-4,), weight_decays=(0.0,), warmup_ratios=(0.1,),
                  batch_sizes=(16,)),
}


def make_grid(
    *,
    seeds: Iterable[int] = (0,),
    lrs: Iterable[float] = (5e-5,),
    weight_decays: Iterable[float] = (0.0,),
    warmup_ratios: Iterable[float] = (0.1,),
    batch_sizes: Iterable[int] = (16,),
) -> tuple[Theta, ...]:
    """The Cartesian product of the given axes as `Theta` records (order: seed varies slowest)."""
    axes = [tuple(a) for a in (seeds, lrs, weight_decays, warmup_ratios, batch_sizes)]
    for name, axis in zip(("seeds", "lrs", "weight_decays", "warmup_ratios", "batch_sizes"), axes):
        if not axis:
            raise ValueError(f"make_grid: {name} is empty")
    return tuple(
        Theta(seed=int(seed), lr=float(lr), weight_decay=float(wd), warmup_ratio=float(wu),
              batch_size=int(bs))
        for seed, lr, wd, wu, bs in itertools.product(*axes)
    )


def theta_grid(preset: str) -> tuple[Theta, ...]:
    """The Θ preset called `preset`: "bort" (480 sets), "cpu" (8), "lr" (3) or "smoke" (2)."""
    if preset not in THETA_PRESETS:
        raise ValueError(f"unknown Θ preset {preset!r}; valid: {', '.join(THETA_PRESETS)}")
    return make_grid(**THETA_PRESETS[preset])


__all__ = [
    "THETA_PRESETS",
    "Theta",
    "make_grid",
    "theta_grid",
]
