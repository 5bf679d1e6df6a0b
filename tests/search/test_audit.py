"""Every head count searched, inherited errors, and the assumption audit on two surfaces."""

from __future__ import annotations

import json

import pytest

from bortkit.search import audit, fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import SyntheticEvaluator
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace

SIZE, SHAPE = SyntheticEvaluator(), SyntheticEvaluator(surface="shape")
WARNING = ("the error-correspondence assumption failed in {k} of {m} audited groups; "
           "the 1 − ε bound does not hold for this evaluator")


def _run(space, evaluator=SIZE, **cfg):
    cfg = {"steps": 40, **cfg}
    return fptas.search(SearchSpace.named(space), FptasConfig(**cfg), evaluator=evaluator,
                        progress=False)


# --- every head count searched ----------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.1, 0.25])
def test_bort_shape_is_trained_on_the_paper_space(eps):
    res = _run("paper", epsilon=eps, audit_fraction=0.0)
    bort = next(c for c in res.candidates if c.spec.dai == (4, 8, 1024, 768))
    assert bort.trained and bort.representative == bort.index


@pytest.mark.parametrize("space", ["cpu", "paper"])
@pytest.mark.parametrize("eps", [0.1, 0.25, 0.5])
def test_no_group_mixes_head_counts_and_every_head_count_is_trained(space, eps):
    res = _run(space, epsilon=eps, audit_fraction=0.0)
    for group in res.groups:
        assert len({res.candidates[k].spec.A for k in group}) == 1
    reps = [c for c in res.candidates if c.representative == c.index]
    assert {c.spec.A for c in reps} == set(res.space.heads)


# --- inheritance ------------------------------------------------------------------------------
def test_untrained_members_inherit_their_representatives_error():
    res = _run("cpu", epsilon=0.25)
    assert res.n_inherited == res.n_space - res.n_trained > 0
    for c in res.candidates:
        if c.inherited:
            rep = res.candidates[c.representative]
            assert not c.trained and rep.trained and c.error == rep.error
            assert c.w == pytest.approx(
                (1 - c.params / res.p_t) * (1 - c.ops / res.i_t) / c.error)
    assert res.n_evaluations == res.n_trained  # inherited trials cost nothing, count nothing


# --- the audit's sample -----------------------------------------------------------------------
def test_sample_spreads_over_groups_before_doubling_up_and_is_seeded():
    groups, reps = ((0, 1, 2, 3), (4, 5, 6), (7,), (8, 9)), (0, 4, 7, 8)  # 6 members, 3 groups
    picked = audit.sample_members(groups, reps, fraction=0.5, seed=0)
    assert len(picked) == 3 and not set(picked) & set(reps)
    assert {next(g for g, ms in enumerate(groups) if k in ms) for k in picked} == {0, 1, 3}
    assert picked == audit.sample_members(groups, reps, fraction=0.5, seed=0)
    assert len(audit.sample_members(groups, reps, fraction=0.1, seed=0)) == 1  # ceil
    assert audit.sample_members(groups, reps, fraction=0.0, seed=0) == ()
    assert audit.sample_members(groups, reps, fraction=1.0, seed=3) == (1, 2, 3, 5, 6, 9)
    assert {audit.sample_members(groups, reps, fraction=0.2, seed=s) for s in range(8)} != {
        audit.sample_members(groups, reps, fraction=0.2, seed=0)}


def test_audit_rows_hand_case():
    groups, reps = ((0, 1, 2), (3, 4), (5, 6)), (0, 3, 5)
    w = {0: 1.0, 1: 1.2, 2: 2.0, 3: 1.0, 4: 0.8, 5: 0.0, 6: 0.0}
    a = audit.audit(groups, reps, (1, 2, 4, 6), w, fraction=0.5, seed=0, epsilon=0.25)
    rows = {r.group: r for r in a.rows}
    assert rows[0].best == 2 and rows[0].ratio == 0.5 and rows[0].violated
    assert rows[1].ratio == 1.25 and not rows[1].violated
    assert rows[2].ratio is None and not rows[2].violated  # W(best) = 0: nothing to fall below
    assert (a.n_groups, a.n_violated, a.violated_fraction, a.min_ratio) == (3, 1, 1 / 3, 0.5)
    assert a.warning == WARNING.format(k=1, m=3)
    assert a.to_frame().shape == (3, 8)


def test_fraction_zero_audits_nothing_and_one_trains_everything():
    off = _run("cpu", epsilon=0.25, audit_fraction=0.0)
    assert off.n_audited == 0 and off.audit.n_groups == 0 and off.audit.warning is None
    assert "nothing audited (audit_fraction = 0)" in off.audit.report()
    full = _run("cpu", epsilon=0.25, audit_fraction=1.0)
    assert full.n_trained == full.n_space and full.n_inherited == 0
    assert full.audit.n_groups == sum(len(g) > 1 for g in full.groups)


def test_the_audit_never_changes_the_choice():
    off = _run("cpu", epsilon=0.25, audit_fraction=0.0)
    on = _run("cpu", epsilon=0.25, audit_fraction=1.0)
    assert on.chosen == off.chosen.replace(audited=False)


# --- the audit on two surfaces ----------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.1, 0.25])
def test_audit_is_clean_where_error_follows_size(eps):
    res = _run("paper", epsilon=eps, audit_fraction=0.5)
    a = res.audit
    assert a.n_groups >= 20 and a.n_violated == 0 and a.violated_fraction == 0.0
    assert a.min_ratio >= 1 - eps and a.warning is None
    assert "the assumption held where measured" in a.report()


@pytest.mark.parametrize("eps", [0.1, 0.25])
def test_audit_flags_a_surface_where_error_depends_on_shape(eps):
    res = _run("paper", SHAPE, epsilon=eps, audit_fraction=0.5)
    a = res.audit
    assert a.n_violated >= 5 and 0 < a.violated_fraction < 1
    assert a.min_ratio < 1 - eps
    assert a.warning == WARNING.format(k=a.n_violated, m=a.n_groups)
    for row in a.rows:
        assert row.violated == (row.ratio is not None and row.ratio < 1 - eps)
        assert res.candidates[row.best].audited and row.best in row.members


def test_shape_surface_is_keyed_by_shape_only():
    assert SHAPE.version != SIZE.version and "surface=shape" in SHAPE.version
    assert "surface" not in SIZE.version  # the size surface keeps its stored results valid
    with pytest.raises(ValueError, match="SyntheticEvaluator.surface must be one of"):
        SyntheticEvaluator(surface="bumpy")


# --- records and bad input --------------------------------------------------------------------
def test_audit_round_trips_and_old_results_still_load():
    res = _run("tiny", epsilon=0.3, audit_fraction=1.0)
    again = FptasResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again == res and again.audit.rows == res.audit.rows
    old = res.to_dict()
    del old["audit"]
    for c in old["candidates"]:
        del c["audited"], c["inherited"]
    assert FptasResult.from_dict(old).audit is None


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_invalid_audit_fraction(value):
    with pytest.raises(ValueError, match="FptasConfig.audit_fraction must"):
        FptasConfig(audit_fraction=value)


def test_audit_fraction_error_names_the_interval():
    with pytest.raises(ValueError, match=r"FptasConfig.audit_fraction must lie in \[0, 1\]"):
        FptasConfig(audit_fraction=1.5)


def test_invalid_audit_seed():
    with pytest.raises(ValueError, match="FptasConfig.audit_seed must be >= 0"):
        FptasConfig(audit_seed=-1)


# --- CLI --------------------------------------------------------------------------------------
def test_cli_warns_plainly_when_the_audit_finds_violations(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["fptas", "--space", "cpu", "--epsilon", "0.25", "--evaluator", "synthetic",
               "--surface", "shape", "--steps", "30", "--audit-fraction", "0.5",
               "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0
    captured = capsys.readouterr()
    res = fptas.load_result(tmp_path / "out")
    assert res.audit.n_violated > 0
    assert f"WARNING: {res.audit.warning}" in captured.err
    assert "groups below 1 − ε" in captured.out


def test_cli_is_quiet_when_the_audit_is_clean(tmp_path, capsys):
    from bortkit.cli import main

    rc = main(["fptas", "--space", "cpu", "--epsilon", "0.25", "--evaluator", "synthetic",
               "--steps", "30", "--param-count", "total", "--out", str(tmp_path / "out"),
               "--no-progress"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "WARNING" not in captured.err and "assumption held" in captured.out
    assert fptas.load_result(tmp_path / "out").config.param_count == "total"


def test_cli_invalid_audit_fraction_is_one_line_exit_2(tmp_path, capsys):
    from bortkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["fptas", "--space", "tiny", "--audit-fraction", "2", "--evaluator", "synthetic",
              "--out", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --audit-fraction: must lie in [0, 1], got '2'" in err and err.count("\n") == 1
