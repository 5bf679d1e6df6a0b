"""Picking a shape from an FPTAS run under budgets: what a user does with the front.

The FPTAS returns W's argmax (`FptasResult.chosen`) and the (p, i, e) front. On a space where
W's cost factors (1 − p/p_T)(1 − i/i_T) span (0, 1] while 1/e varies by a few percent, W's
argmax is the cheapest shape (docs/results.md, FPTAS vs baselines). A user who needs a model
"at most a fifth of the teacher's size and at least 5× faster" instead takes the most accurate
trained candidate inside those budgets: `budget_pick`. A project choice, not from the papers.
"""

from __future__ import annotations

from bortkit.arch import ArchSpec, count_ops, count_params
from bortkit.records import check_float, check_positive
from bortkit.search.result import Candidate, FptasResult

PICKS = ("w", "budget")


def budget_pick(result: FptasResult, reference: ArchSpec, *, size_budget: float = 0.20,
                min_ops_ratio: float = 10.0, seq_len: int = 128) -> Candidate:
    """The trained candidate of lowest e within a size and a cost budget.

    Among `result`'s *trained* candidates (a measured e, not one inherited from a group's
    representative), those whose effective (non-embedding) parameters are ≤ `size_budget` ×
    `reference`'s and whose analytic op count at `seq_len` tokens is ≤ `reference`'s /
    `min_ops_ratio`; of these, the lowest e (ties: fewer ops).

    Args:
        result: an FPTAS (or exhaustive / NSGA-II) run.
        reference: the model the budgets are relative to (the teacher).
        size_budget: the largest effective size, as a fraction of the reference's, in (0, 1].
        min_ops_ratio: the smallest reference/candidate op-count ratio (> 0).
        seq_len: tokens per sequence of the op count.

    Raises:
        ValueError: a budget out of range, or no trained candidate fits both budgets.
    """
    check_float("size_budget", size_budget, low=0.0, high=1.0, low_open=True)
    check_positive("min_ops_ratio", min_ops_ratio)
    ref_eff = count_params(reference).effective
    ref_ops = count_ops(reference, seq_len=seq_len).total

    def ops(c: Candidate) -> int:
        return count_ops(c.spec, seq_len=seq_len).total

    trained = [c for c in result.trained if c.error is not None]
    inside = [c for c in trained if count_params(c.spec).effective <= size_budget * ref_eff
              and ops(c) * min_ops_ratio <= ref_ops]
    if not inside:
        raise ValueError(
            f"no trained candidate of the FPTAS run is within size_budget={size_budget} of "
            f"{reference.label}'s effective size and min_ops_ratio={min_ops_ratio} (of "
            f"{len(trained)} trained); loosen a budget or search a smaller space")
    return min(inside, key=lambda c: (c.error, ops(c)))


def pick(result: FptasResult, how: str, reference: ArchSpec, **budgets: float) -> Candidate:
    """`result.chosen` (how="w", W's argmax) or `budget_pick` (how="budget")."""
    if how not in PICKS:
        raise ValueError(f"pick={how!r} must be one of {PICKS}")
    return result.chosen if how == "w" else budget_pick(result, reference, **budgets)


__all__ = ["PICKS", "budget_pick", "pick"]
