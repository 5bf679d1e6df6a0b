"""The assumption audit: does each ε-trimming representative really stand for its group?

The FPTAS's 1 − ε bound rests on AB^nC's "error correspondence" [S6]: candidates of near-equal
size have near-equal error, so training one representative per (1+ε) cost group loses at most
a (1 − ε) factor of W. Nothing in a run checks it; the bound is a constant. The audit measures
it (PROJECT CHOICE; no peer ships one): after the representatives, a seeded sample of
non-representative members is trained under the same budget, Θ and seed, and for every group
with an audited member

    ratio = W(representative) / W(best audited member),

which the assumption says is ≥ 1 − ε. A ratio below 1 − ε is a measured violation: on this
evaluator the representative does not speak for its group and the bound does not hold. The
audit never changes the FPTAS's choice; it reports.

`sample_members` draws the sample, `audit` builds the `Audit` record (with one `AuditRow` per
audited group) that `FptasResult.audit` carries.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from bortkit.records import Record


def sample_members(
    groups: Sequence[Sequence[int]], reps: Sequence[int], *, fraction: float, seed: int
) -> tuple[int, ...]:
    """The non-representative members the audit trains: ⌈fraction × their number⌉ of them.

    Spread over groups first (PROJECT CHOICE): groups are visited in a seeded order and each
    gives one seeded member per round, so with m picks and G groups holding members, min(m, G)
    groups are audited with at least one member each before any group gets a second.

    Returns:
        Candidate indices, ascending (empty when `fraction` is 0 or no group has a member
        besides its representative).
    """
    pool = {g: [k for k in members if k != reps[g]] for g, members in enumerate(groups)}
    pool = {g: ks for g, ks in pool.items() if ks}
    n_pool = sum(len(ks) for ks in pool.values())
    # round(): 0.1 × 30 is 3.0000000000000004 in floats, which must stay 3.
    m = min(n_pool, math.ceil(round(fraction * n_pool, 9)))
    rng = random.Random(seed)
    order = sorted(pool)
    rng.shuffle(order)
    for g in order:
        rng.shuffle(pool[g])
    picked: list[int] = []
    depth = 0
    while len(picked) < m:
        for g in order:
            if depth < len(pool[g]) and len(picked) < m:
                picked.append(pool[g][depth])
        depth += 1
    return tuple(sorted(picked))


@dataclass(frozen=True)
class AuditRow(Record):
    """One audited group: its representative against the best of its audited members.

    Attributes:
        group: the ε-trimming group's index.
        representative: the candidate trained for the group.
        members: the group's audited (trained) non-representative members.
        best: the audited member with the largest W.
        w_representative, w_best: their W (best over Θ).
        ratio: W(representative) / W(best); None when W(best) = 0 (the best audited member is
            the maximum point itself, so the representative cannot fall below it).
        violated: ratio < 1 − ε.
    """

    group: int
    representative: int
    members: tuple[int, ...]
    best: int
    w_representative: float
    w_best: float
    ratio: float | None
    violated: bool


@dataclass(frozen=True)
class Audit(Record):
    """The assumption audit of one run: which members were trained and what they showed.

    Attributes:
        fraction, seed: `FptasConfig.audit_fraction` and `audit_seed`.
        epsilon: ε of the run (a group violates the assumption when its ratio < 1 − ε).
        members: every candidate trained by the audit.
        rows: one `AuditRow` per audited group, by group index.
        n_groups, n_violated: audited groups, and those below 1 − ε (derived).
        violated_fraction: n_violated / n_groups (None when no group was audited; derived).
        min_ratio: the lowest ratio (None when none was defined; derived).
    """

    fraction: float
    seed: int
    epsilon: float
    members: tuple[int, ...] = ()
    rows: tuple[AuditRow, ...] = ()
    n_groups: int = field(init=False)
    n_violated: int = field(init=False)
    violated_fraction: float | None = field(init=False)
    min_ratio: float | None = field(init=False)

    def __post_init__(self) -> None:
        n, bad = len(self.rows), sum(r.violated for r in self.rows)
        ratios = [r.ratio for r in self.rows if r.ratio is not None]
        object.__setattr__(self, "n_groups", n)
        object.__setattr__(self, "n_violated", bad)
        object.__setattr__(self, "violated_fraction", bad / n if n else None)
        object.__setattr__(self, "min_ratio", min(ratios) if ratios else None)

    @property
    def warning(self) -> str | None:
        """The plain warning the CLI and notebook 02 show when the audit found violations."""
        if not self.n_violated:
            return None
        return (f"the error-correspondence assumption failed in {self.n_violated} of "
                f"{self.n_groups} audited groups; the 1 − ε bound does not hold for this "
                "evaluator")

    def report(self) -> str:
        """One line of numbers: what the audit trained and how many groups fell below 1 − ε.

        The verdict in words is `warning` (shown next to this line when there are violations).
        """
        if not self.n_groups:
            why = ("audit_fraction = 0" if self.fraction == 0 else
                   "no group has a member besides its representative")
            return f"audit: nothing audited ({why}); the 1 − ε bound is assumed, not measured"
        low = "" if self.min_ratio is None else f", lowest W ratio {self.min_ratio:.3f}"
        held = "" if self.n_violated else "; the assumption held where measured"
        return (f"audit: {len(self.members)} members of {self.n_groups} groups trained "
                f"(audit_fraction {self.fraction:g}); {self.n_violated} of {self.n_groups} "
                f"groups below 1 − ε = {1 - self.epsilon:.2f}{low}{held}")

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame (pandas imported here only: the search stays light)."""
        import pandas as pd

        columns = [f.name for f in dataclasses.fields(AuditRow)]
        return pd.DataFrame([r.to_dict() for r in self.rows], columns=columns)


def audit(
    groups: Sequence[Sequence[int]],
    reps: Sequence[int],
    members: Sequence[int],
    w: Mapping[int, float],
    *,
    fraction: float,
    seed: int,
    epsilon: float,
) -> Audit:
    """The `Audit` of a run from its groups and the W (best over Θ) of every trained candidate.

    Args:
        groups, reps: the ε-trimming groups and their representatives.
        members: the audited members (`sample_members`), all trained.
        w: W of every trained candidate (representatives and audited members).
        fraction, seed, epsilon: recorded; 1 − ε is the threshold of a violation.
    """
    audited = set(members)
    rows = []
    for g, group in enumerate(groups):
        ks = tuple(k for k in group if k in audited)
        if not ks:
            continue
        best = max(ks, key=lambda k: (w[k], -k))
        w_rep, w_best = w[reps[g]], w[best]
        ratio = w_rep / w_best if w_best > 0 else None
        rows.append(AuditRow(group=g, representative=reps[g], members=ks, best=best,
                             w_representative=w_rep, w_best=w_best, ratio=ratio,
                             violated=ratio is not None and ratio < 1.0 - epsilon))
    return Audit(fraction=fraction, seed=seed, epsilon=epsilon, members=tuple(sorted(audited)),
                 rows=tuple(rows))


__all__ = ["Audit", "AuditRow", "audit", "sample_members"]
