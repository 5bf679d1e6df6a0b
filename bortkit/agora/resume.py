"""Agora's checkpoint folder: one atomic JSON file per finished round, so a killed run resumes.

`bortkit.agora.loop.augment(..., checkpoint_dir=DIR)` writes ``DIR/agora_run.json`` (what
identifies the run: its settings, Θ, seed, the sizes and dev labels it started from, and the
labeller's dev accuracy) before the first round, and ``DIR/round-NNN.json`` (the `AgoraRound`)
as each round ends. A rerun with the same inputs replays the recorded rounds (the points they
added, the θ's they pruned) and continues after the last complete one; every round's randomness
is derived from (seed, round), so the continued run equals an uninterrupted one. A damaged
round file is reported in one log line and that round (and any after it) is redone; a
checkpoint of another run is reported and replaced.

numpy-free: records and files only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bortkit.agora.records import AgoraConfig, AgoraRound
from bortkit.records import Record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgoraStart(Record):
    """What identifies an Agora run in its checkpoint folder (``agora_run.json``)."""

    file_name: ClassVar[str] = "agora_run.json"

    config: AgoraConfig
    thetas: tuple[str, ...]
    seed: int
    initial_train_size: int
    dev_labels: tuple[int, ...]
    labeller_dev_accuracy: float

    def same_run(self, other: AgoraStart) -> bool:
        """Equal in everything but the measured labeller accuracy."""
        return self.replace(labeller_dev_accuracy=0.0) == other.replace(labeller_dev_accuracy=0.0)


def _round_path(folder: Path, index: int) -> Path:
    return folder / f"round-{index:03d}.json"


class Checkpoint:
    """The checkpoint folder of one Agora run (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def start(self, start: AgoraStart) -> tuple[AgoraStart | None, list[AgoraRound]]:
        """(the recorded start, the finished rounds to replay) when the folder holds this run;
        (None, []) when it holds nothing usable (then `begin` records the new start).

        A damaged or foreign ``agora_run.json`` is reported in one log line and replaced.
        """
        path = self.folder / AgoraStart.file_name
        if not path.is_file():
            return None, []
        try:
            recorded = AgoraStart.load(path)
        except ValueError as exc:
            logger.warning("starting Agora over: %s", exc)
            return None, []
        if not recorded.same_run(start):
            logger.warning("starting Agora over: %s is the checkpoint of another run (settings, "
                           "Θ, seed or data differ)", path)
            return None, []
        return recorded, self._rounds()

    def begin(self, start: AgoraStart) -> None:
        """Record a new run's start; any rounds of an earlier run are deleted."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._drop_rounds(0)
        start.save(self.folder / AgoraStart.file_name)

    def _rounds(self) -> list[AgoraRound]:
        rounds: list[AgoraRound] = []
        while _round_path(self.folder, len(rounds)).is_file():
            path = _round_path(self.folder, len(rounds))
            try:
                rnd = AgoraRound.load(path)
            except ValueError as exc:
                logger.warning("redoing Agora from round %d: %s", len(rounds), exc)
                self._drop_rounds(len(rounds))
                break
            if rnd.index != len(rounds):
                logger.warning("redoing Agora from round %d: %s holds round %d", len(rounds),
                               path, rnd.index)
                self._drop_rounds(len(rounds))
                break
            rounds.append(rnd)
        if rounds:
            logger.info("Agora: resuming after round %d from %s", len(rounds) - 1, self.folder)
        return rounds

    def drop_from(self, index: int) -> None:
        """Delete the round files from `index` on (they no longer follow from the run)."""
        self._drop_rounds(index)

    def _drop_rounds(self, index: int) -> None:
        for path in sorted(self.folder.glob("round-*.json")):
            try:
                number = int(path.stem.split("-", 1)[1])
            except ValueError:
                continue
            if number >= index:
                path.unlink(missing_ok=True)

    def save(self, rnd: AgoraRound) -> None:
        """Record a finished round (atomically: a kill leaves the old state or the new one)."""
        rnd.save(_round_path(self.folder, rnd.index))


__all__ = ["AgoraStart", "Checkpoint"]
