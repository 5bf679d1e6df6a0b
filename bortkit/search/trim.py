"""The quantities the FPTAS is built on: p, i, the maximum point T, ε-trimming, W and the budget N.

Pure functions of numbers and shapes, each tied to a step of the algorithm (see
`bortkit.search.fptas` for the step table and which parts are SOURCED or PROJECT CHOICE). They
change when the reading of the papers changes; the flow that calls them lives in `fptas`.
"""

from __future__ import annotations

import math
from typing import Hashable, Mapping, Sequence

from bortkit.arch import PRESETS, ArchSpec, count_ops, count_params

E_FLOOR = 1e-7  # [S15] adds 1e-7 to e to avoid dividing by zero; we take max(e, 1e-7).
ORDERS = ("p", "i", "pi")
REPRESENTATIVES = ("cheapest", "costliest")
# "effective" (no embeddings) first: the default, see `FptasConfig.param_count` and
# docs/design/search.md for the measured argument (embeddings are 78-98% of total p on the CPU
# space, so total p mostly measures H through V·H and W's p factor barely sees depth or I).
PARAM_COUNTS = ("effective", "total", "mlm_total")


def training_budget(
    epsilon: float, s: float, *, c: float = 10.0, min_steps: int = 1, max_steps: int = 1000
) -> int:
    """N = ceil(c / (ε · s^{3/2})) clamped to [min_steps, max_steps].

    SOURCED shape: (b)'s running time has a |Θ||B||Ξ| / (ε s^{3/2}) term [S2], i.e. about
    1/(ε s^{3/2}) SGD steps per candidate and θ. PROJECT CHOICE: the constant c and the clamp.
    """
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon!r}")
    if not s > 0:
        raise ValueError(f"s must be positive, got {s!r}")
    n = math.ceil(c / (epsilon * s**1.5))
    return int(min(max(n, min_steps), max_steps))


COSTS = ("ops", "latency")  # what i(ξ) is: analytic op count or measured latency


def objectives(spec: ArchSpec, *, param_count: str, seq_len: int = 128) -> tuple[int, int]:
    """(p(ξ), i(ξ)): exact parameter count and analytic operation count (step 1, SOURCED [S6]).

    `param_count` has no default on purpose: the candidates, the maximum point T and so W must
    use the same count (`FptasConfig.param_count` decides it once).
    """
    return getattr(count_params(spec), param_count), count_ops(spec, seq_len=seq_len).total


def space_objectives(
    specs: Sequence[ArchSpec], *, param_count: str, seq_len: int, cost: str = "ops",
    latency_ms: Mapping[str, float] | None = None,
) -> list[tuple[float, float]]:
    """(p, i) of every candidate: i is the op count (`cost="ops"`) or measured ms ("latency").

    Raises:
        ValueError: cost="latency" and some candidate has no measured latency (named).
    """
    pi = [objectives(s, param_count=param_count, seq_len=seq_len) for s in specs]
    if cost == "ops":
        return pi
    latency = dict(latency_ms or {})
    missing = [s.label for s in specs if s.label not in latency]
    if missing:
        raise ValueError(f"cost='latency' but {len(missing)} candidates have no measured "
                         f"latency: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
                         "; measure the whole space (bortkit.measure.cost.measure_costs)")
    return [(p, float(latency[s.label])) for (p, _), s in zip(pi, specs)]


def maximum_point(
    params: Sequence[int], ops: Sequence[int], *, name: str = "grid", param_count: str,
    seq_len: int = 128,
) -> tuple[int, int]:
    """(p_T, i_T) of the maximum point, checked to dominate every candidate.

    SOURCED [S2, S15]: T is the maximum point; the QHACK reading of Definition 8 takes the
    maximum p and maximum i over the candidates ("grid"). PROJECT CHOICE: a named preset may
    be used instead (the paper's T is UNKNOWN), if it dominates every candidate.
    """
    if name == "grid":
        return max(params), max(ops)
    p_t, i_t = objectives(PRESETS[name], param_count=param_count, seq_len=seq_len)
    worst = max(range(len(params)), key=lambda k: max(params[k] / p_t, ops[k] / i_t))
    if params[worst] > p_t or ops[worst] > i_t:
        raise ValueError(
            f"maximum_point {name!r} (p_T={p_t}, i_T={i_t}) is not in range: candidate "
            f"#{worst} has p={params[worst]}, i={ops[worst]}; T must dominate every candidate"
        )
    return p_t, i_t


def group_key(spec: ArchSpec) -> int:
    """The key ε-trimming never merges across: the head count A.

    Why (PROJECT CHOICE, tied to the papers): trimming stands on AB^nC's error correspondence,
    "candidates of near-equal size have near-equal error", so one representative can speak for
    its group [S6]. A enters neither p (heads split H, they add no weights) nor i beyond the
    A·n² softmax term, so a cost-only rule always puts shapes that differ only in A in one
    group, and the representative's A decides for all of them; yet A changes what is learnt
    (head dimension H/A) without changing size, so the correspondence says nothing across A.
    The paper's own result is A = 8 among A ∈ {4, 8, 12, 16} at D4-H1024-I768 (Bort), so its
    search must have measured several head counts. Splitting by A keeps every head count of Ξ
    searched at the cost of at most |A values| × as many groups.
    """
    return spec.num_attention_heads


def trim(
    params: Sequence[int],
    ops: Sequence[int],
    *,
    epsilon: float,
    order: str = "p",
    representative: str = "cheapest",
    keys: Sequence[Hashable] | None = None,
) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]:
    """ε-trimming: groups of near-equal cost and one representative per group.

    SOURCED in spirit [S6]: the AB^nC ordering lets one "partition the space every ε" and keep
    a representative. PROJECT CHOICE (the rule): sort by `order`; walk the sorted list and add
    a candidate to the open group of its key (`keys[k]`; `group_key` gives the head count A)
    while its p and i stay within [1/(1+ε), 1+ε] × that group's first member's, else open a new
    group for that key. Candidates of different keys never share a group. The representative
    is the group's first ("cheapest") or last member.

    Args:
        params, ops: p and i of each candidate.
        epsilon: ε ∈ (0, 1).
        order: ``"p"`` (by (p, i)), ``"i"`` (by (i, p)) or ``"pi"`` (by p·i).
        representative: ``"cheapest"`` or ``"costliest"``.
        keys: per candidate, the key groups never cross (None: one key for all).

    Returns:
        (groups, representatives): groups as tuples of candidate indices in sorted order,
        numbered in the order they open, and the representative index of each group.
    """
    n = len(params)
    if keys is not None and len(keys) != n:
        raise ValueError(f"trim: {len(keys)} keys for {n} candidates")
    if order == "p":
        key = lambda k: (params[k], ops[k], k)  # noqa: E731
    elif order == "i":
        key = lambda k: (ops[k], params[k], k)  # noqa: E731
    else:
        key = lambda k: (params[k] * ops[k], k)  # noqa: E731
    hi = 1.0 + epsilon
    groups: list[list[int]] = []
    open_group: dict[Hashable, list[int]] = {}  # the group each key currently adds to
    for k in sorted(range(n), key=key):
        g = open_group.get(None if keys is None else keys[k])
        if g is not None:
            rp, ri = params[k] / params[g[0]], ops[k] / ops[g[0]]
            if 1 / hi <= rp <= hi and 1 / hi <= ri <= hi:
                g.append(k)
                continue
        groups.append([k])
        open_group[None if keys is None else keys[k]] = groups[-1]
    pick = 0 if representative == "cheapest" else -1
    return tuple(tuple(g) for g in groups), tuple(g[pick] for g in groups)


def w_coefficient(p: float, i: float, error: float, *, p_t: float, i_t: float) -> float:
    """W = ((p_T − p)/p_T) · ((i_T − i)/i_T) / max(e, 1e-7)  ([S15], third-party, UNVERIFIED)."""
    return ((p_t - p) / p_t) * ((i_t - i) / i_t) / max(error, E_FLOOR)


__all__ = [
    "COSTS",
    "space_objectives",
    "E_FLOOR",
    "ORDERS",
    "PARAM_COUNTS",
    "REPRESENTATIVES",
    "group_key",
    "maximum_point",
    "objectives",
    "training_budget",
    "trim",
    "w_coefficient",
]
