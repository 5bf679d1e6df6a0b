"""bortkit.embed: projections (PCA fast, UMAP slow), Projection records, sentence embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from bortkit import embed
from bortkit.agora import torus


@pytest.fixture(scope="module")
def torus_run():
    return torus.run_torus(torus.TorusConfig(n_train=80, n_dev=80, n_test=100), seed=0)


def test_pca_projector_fits_once_and_transforms_later_points():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 5))
    p = embed.Projector(method="pca", random_state=0).fit(x)
    a = p.transform(x[:10])
    b = p.transform(x[:10])
    assert a.shape == (10, 2)
    np.testing.assert_array_equal(a, b)
    assert p.transform(np.zeros((0, 5))).shape == (0, 2)


@pytest.mark.parametrize("kw,x", [
    (dict(method="tsne"), np.zeros((10, 3))),
    (dict(method="pca"), np.zeros((2, 3))),
    (dict(method="pca"), np.zeros(10)),
    (dict(method="umap", n_neighbors=1), np.ones((10, 3))),
    (dict(method="pca", min_dist=-1.0), np.ones((10, 3))),
])
def test_projector_validation(kw, x):
    with pytest.raises(ValueError):
        embed.Projector(**kw).fit(x)


def test_transform_before_fit_raises():
    with pytest.raises(ValueError, match="not fitted"):
        embed.Projector().transform(np.zeros((3, 2)))


def test_project_rounds_shares_one_coordinate_system(torus_run, tmp_path):
    res = torus_run.result
    proj = embed.project_rounds(res, torus_run.data.dev_x,
                                projector=embed.Projector(method="pca"))
    n_new = sum(r.n_new for r in res.rounds)
    assert len(proj.coords) == len(res.dev_labels) + n_new
    assert len(proj.select("dev")) == len(res.dev_labels)
    for r in res.rounds:
        assert len(proj.select("new", r.index)) == r.n_new
    # the dev rows do not move when rounds are added: fitted once, on dev
    alone = embed.Projector(method="pca").fit_transform(torus_run.data.dev_x)
    np.testing.assert_allclose(np.asarray(proj.coords)[proj.select("dev")], alone, atol=1e-9)
    assert embed.Projection.from_dict(proj.to_dict()) == proj
    assert embed.Projection.load(proj.save(tmp_path / "projection.json")) == proj
    assert proj.texts[0].startswith("(")


def test_cosine_similarity():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(embed.cosine_similarity(a, b), [0.0, 1.0])


@pytest.mark.slow
def test_umap_projection_is_deterministic_and_trustworthy():
    from sklearn.manifold import trustworthiness

    data = torus.make_torus(n_train=10, n_dev=100, n_test=10, seed=0)
    x = data.dev_x
    kw = dict(method="umap", n_neighbors=10, n_epochs=30, random_state=0, metric="euclidean")
    a = embed.Projector(**kw).fit_transform(x)
    b = embed.Projector(**kw).fit_transform(x)
    np.testing.assert_allclose(a, b)
    assert trustworthiness(x, a, n_neighbors=5) >= 0.85
    later = embed.Projector(**kw).fit(x).transform(data.train_x)
    assert later.shape == (10, 2) and np.isfinite(later).all()


@pytest.mark.slow
def test_sentence_embedder_minilm_is_normalised_cached_and_semantic():
    e = embed.SentenceEmbedder()
    texts = ["a great movie", "a wonderful film", "the central bank raised interest rates"]
    v = e(texts)
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.3
    np.testing.assert_array_equal(e(texts[:1]), v[:1])  # from the cache
    with pytest.raises(TypeError):
        e("one string")


def test_sentence_embedder_missing_dir_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        embed.SentenceEmbedder(tmp_path)(["x"])
