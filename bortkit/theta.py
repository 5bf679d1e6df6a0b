"""Hyperparameter sets Θ of every training stage: the `Theta` record, grids, and named presets.

A θ is one (seed, learning rate, weight decay, warm-up ratio, batch size) setting; a Θ is a tuple
of them. The same record serves the three stages that train: the FPTAS's bounded pretraining of
each candidate (`bortkit.search`, through its evaluator), fine-tuning
(`bortkit.finetune.engine.finetune`) and Agora. `make_grid` builds the Cartesian product of
given axes; `theta_grid(name)` returns one of `THETA_PRESETS`: for fine-tuning "bort" (the Bort
README's 480-set grid), "cpu", "lr" and "smoke"; for the FPTAS "one", "lr2" and "lr3".

No heavy imports: `import bortkit.theta` needs only the standard library.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable

from bortkit.records import Record, check_float, check_int, check_positive_int


@dataclass(frozen=True)
class Theta(Record):
    """One hyperparameter set θ (the axes of the Bort README grid).

    Args:
        seed: seeds model-head initialisation, dropout and the data order (fine-tuning; the
            FPTAS seeds every evaluation with `FptasConfig.seed` instead, for common random
            numbers across candidates).
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
        for name in ("seed", "batch_size"):  # 16.0 is not a batch size: refuse, don't coerce
            if isinstance(getattr(self, name), float):
                raise TypeError(f"Theta.{name} must be an int, got {getattr(self, name)!r}")
        check_int("Theta.seed", self.seed, minimum=0)
        check_positive_int("Theta.batch_size", self.batch_size)
        # Stored as floats so that equal settings compare (and hash, and key stores) equal.
        object.__setattr__(self, "lr", check_float("Theta.lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(self, "weight_decay",
                           check_float("Theta.weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(self, "warmup_ratio", check_float(
            "Theta.warmup_ratio", self.warmup_ratio, low=0.0, high=1.0, high_open=True))

    @property
    def label(self) -> str:
        """Short unique label, e.g. ``"s0-lr5e-05-wd0-wu0.1-bs16"`` (also a folder name)."""
        return (f"s{self.seed}-lr{self.lr:g}-wd{self.weight_decay:g}-wu{self.warmup_ratio:g}"
                f"-bs{self.batch_size}")


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
    # Θ of the FPTAS: the bounded KD pretraining of each candidate (the surrogate error). AdamW
    # with warm-up 0.06 and decay 0.01 around lr 1e-3 (the surrogate's settings); |B| = 8, the
    # default `FptasConfig.batch_size`. The seed is FptasConfig.seed, the same for every θ.
    "one": dict(seeds=(0,), lrs=(1e-3,), weight_decays=(0.01,), warmup_ratios=(0.06,),
                batch_sizes=(8,)),
    "lr2": dict(seeds=(0,), lrs=(5e-4, 2e-3), weight_decays=(0.01,), warmup_ratios=(0.06,),
                batch_sizes=(8,)),
    "lr3": dict(seeds=(0,), lrs=(3e-4, 1e-3, 3e-3), weight_decays=(0.01,),
                warmup_ratios=(0.06,), batch_sizes=(8,)),
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
    """The Θ preset called `preset` (see `THETA_PRESETS`).

    Fine-tuning: "bort" (480 sets), "cpu" (8), "lr" (3), "smoke" (2). FPTAS: "one" (1),
    "lr2" (2), "lr3" (3).
    """
    if preset not in THETA_PRESETS:
        raise ValueError(f"unknown Θ preset {preset!r}; valid: {', '.join(THETA_PRESETS)}")
    return make_grid(**THETA_PRESETS[preset])


__all__ = [
    "THETA_PRESETS",
    "Theta",
    "make_grid",
    "theta_grid",
]
