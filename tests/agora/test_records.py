"""bortkit.agora.records: AgoraConfig's validation (one test per rule) and smoke sizes, and the
round records' JSON round trip."""

from __future__ import annotations

import pytest

from bortkit.agora.records import AgoraConfig, AgoraRound


def test_defaults_and_smoke():
    assert AgoraConfig().band == (0.8, 0.98) and AgoraConfig().max_mistakes is None
    smoke = AgoraConfig.smoke()
    assert (smoke.samples_per_mistake, smoke.max_mistakes) == (2, 8)
    assert AgoraConfig.smoke(max_mistakes=3).max_mistakes == 3  # the caller's value wins
    assert AgoraConfig.from_dict(smoke.to_dict()) == smoke


def test_band_is_stored_as_floats():
    assert AgoraConfig(band=[0, 1]).band == (0.0, 1.0)


def test_round_keeps_coordinate_points_as_tuples():
    rnd = AgoraRound(index=0, thetas=("a",), dev_accuracy=(0.5,), best_theta="a",
                     best_dev_accuracy=0.5, mistakes=(1,), dev_predictions=(0, 0),
                     new_points=((0.1, 0.2, 0.3),), new_sources=(1,), new_labels=(1,),
                     new_confidence=(0.9,), train_size=3, pruned=("a",))
    again = AgoraRound.from_dict(rnd.to_dict())
    assert again == rnd and again.new_points == ((0.1, 0.2, 0.3),) and again.n_new == 1


@pytest.mark.parametrize("band", [(-1.5, 0.5), (0.2, 1.01), (2.0, 3.0)])
def test_band_outside_range_raises(band):
    with pytest.raises(ValueError, match=r"band must lie inside \[-1, 1\]"):
        AgoraConfig(band=band)


def test_inverted_band_raises():
    with pytest.raises(ValueError, match="inverted"):
        AgoraConfig(band=(0.9, 0.5))


def test_band_wrong_length_raises():
    with pytest.raises(ValueError, match="band"):
        AgoraConfig(band=(0.5,))


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_zero_or_bad_samples_raise(n):
    with pytest.raises((ValueError, TypeError), match="samples_per_mistake"):
        AgoraConfig(samples_per_mistake=n)


def test_bad_prune_raises():
    with pytest.raises(ValueError, match="prune"):
        AgoraConfig(prune="worst")


def test_bad_replay_raises():
    with pytest.raises(ValueError, match="replay"):
        AgoraConfig(replay=-1)


def test_bad_max_rounds_raises():
    with pytest.raises(ValueError, match="max_rounds"):
        AgoraConfig(max_rounds=0)


def test_bad_max_mistakes_raises():
    with pytest.raises(ValueError, match="max_mistakes"):
        AgoraConfig(max_mistakes=0)


def test_bad_augment_last_raises():
    with pytest.raises(TypeError, match="augment_last"):
        AgoraConfig(augment_last=1)
