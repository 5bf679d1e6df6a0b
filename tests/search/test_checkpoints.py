"""Kept weights travel through the search as a path string: a trained candidate knows its
checkpoint, an inherited one never claims its representative's, and results written before the
field existed still load. No torch here (the search never loads a checkpoint)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bortkit.cli import main
from bortkit.search import fptas
from bortkit.search.config import FptasConfig
from bortkit.search.evaluation import EvalResult, SyntheticEvaluator
from bortkit.search.result import FptasResult
from bortkit.search.space import SearchSpace


@dataclass(frozen=True)
class KeepingEvaluator:
    """The synthetic evaluator, reporting a kept folder per evaluation like the surrogate."""

    inner: SyntheticEvaluator = SyntheticEvaluator()

    @property
    def version(self) -> str:
        return self.inner.version

    def evaluate(self, spec, theta, *, steps, seed) -> EvalResult:
        res = self.inner.evaluate(spec, theta, steps=steps, seed=seed)
        return res.replace(checkpoint=f"/kept/{spec.label}-{theta.label}-s{steps}")


def _strip(value):
    """`value` without any "checkpoint" key (a result written before the field existed)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "checkpoint"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_candidates_know_their_checkpoints(tmp_path):
    result = fptas.search(SearchSpace.tiny(), FptasConfig(epsilon=0.3, steps=10),
                          evaluator=KeepingEvaluator(), progress=False)
    assert result.n_inherited and result.n_trained
    for c in result.candidates:
        if c.trained:
            assert c.checkpoint == f"/kept/{c.spec.label}-{c.theta.label}-s10"
        else:
            assert c.checkpoint == ""  # an inherited e, but not the representative's weights
    assert result.chosen.checkpoint
    fptas.save_result(result, tmp_path)
    assert FptasResult.load(tmp_path) == result
    old = _strip(json.loads((tmp_path / "fptas_result.json").read_text()))
    assert "checkpoint" not in json.dumps(old)
    assert FptasResult.from_dict(old).chosen.checkpoint == ""
    plain = fptas.search(SearchSpace.tiny(), FptasConfig(epsilon=0.3, steps=10),
                         evaluator=SyntheticEvaluator(), progress=False)
    assert not any(c.checkpoint for c in plain.candidates)  # off unless the evaluator keeps


def test_cli_keep_weights_needs_the_surrogate(capsys, tmp_path):
    argv = ["fptas", "--space", "tiny", "--evaluator", "synthetic", "--steps", "5",
            "--out", str(tmp_path / "o"), "--keep-weights", str(tmp_path / "kept"),
            "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("bortkit fptas: error: --keep-weights needs --evaluator surrogate (the "
                   "synthetic evaluator trains no model)")
    assert not (tmp_path / "kept").exists()
