"""Embeddings (MiniLM sentence vectors, student hidden states) and 2-D projections (UMAP).

* `SentenceEmbedder` — mean-pooled, L2-normalised last hidden states of the shipped MiniLM
  checkpoint (`bortkit.pretrain.teacher.minilm_dir()`), the all-MiniLM-L6-v2 recipe, computed
  with plain transformers (no hub). Cosine similarity is then a dot product.
* `hidden_state_embeddings` — the same pooling over any HF encoder (e.g. a fine-tuned student).
* `Projector` — the estimator contract over `umap.UMAP` (or PCA, for speed/tests): `fit` once
  per run, then `transform` later rounds' points, so every round shares the same coordinates.
* `project_rounds` — the `Projection` record of an Agora run: dev points + each round's new
  points (and, with its random-source control, the control's new points and the train points
  they were sampled around), in one coordinate system, for `bortkit.plots.agora`.

umap is imported lazily (first import ~10 s for numba).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bortkit.pretrain.teacher import minilm_dir
from bortkit.records import Record
from bortkit.utils import quiet_transformers

logger = logging.getLogger(__name__)

METHODS = ("umap", "pca")


def _mean_pool(hidden: Any, mask: Any) -> Any:
    # hidden (batch, seq, H), mask (batch, seq) -> (batch, H)
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def hidden_state_embeddings(
    model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 64,
    max_length: int = 128, normalize: bool = True, layer: int = -1,
) -> np.ndarray:
    """Mean-pooled hidden states (n, H) of `texts` from an HF encoder or a model with `.bert`.

    Args:
        model: a `BertModel`, or any model whose `.bert` (or `.base_model`) is one.
        tokenizer: its tokenizer.
        texts: the inputs.
        batch_size, max_length: inference batch size and truncation in tokens.
        normalize: L2-normalise rows (cosine = dot product).
        layer: which hidden layer to pool (-1 = last).
    """
    import torch

    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    encoder = getattr(model, "bert", None) or getattr(model, "base_model", model)
    was_training = encoder.training
    encoder.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[i:i + batch_size]), truncation=True,
                            max_length=max_length, padding=True, return_tensors="pt")
            hs = encoder(**enc, output_hidden_states=layer != -1)
            hidden = hs.last_hidden_state if layer == -1 else hs.hidden_states[layer]
            out.append(_mean_pool(hidden, enc["attention_mask"]).float().numpy())
    encoder.train(was_training)
    h = getattr(getattr(encoder, "config", None), "hidden_size", 0)
    emb = np.concatenate(out) if out else np.zeros((0, h), dtype=np.float32)
    if normalize and len(emb):
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return emb


class SentenceEmbedder:
    """MiniLM sentence embeddings (all-MiniLM-L6-v2 recipe: mean pooling + L2 norm).

    The model loads on first use and stays loaded. Calling the embedder returns (n, 384).
    With `cache` (default) each distinct text is embedded once per embedder (Agora embeds the
    same train/dev texts every round).
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, *,
                 batch_size: int = 64, max_length: int = 128, cache: bool = True) -> None:
        self.model_dir = model_dir
        self.cache = cache
        self._cache: dict[str, np.ndarray] = {}
        self.batch_size = batch_size
        self.max_length = max_length
        self.model_: Any = None
        self.tokenizer_: Any = None

    def _load(self) -> None:
        from transformers import AutoTokenizer, BertModel

        path = Path(self.model_dir) if self.model_dir is not None else minilm_dir()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model_dir {str(path)!r} has no config.json")
        with quiet_transformers():
            self.tokenizer_ = AutoTokenizer.from_pretrained(path)
            self.model_ = BertModel.from_pretrained(path, add_pooling_layer=False).eval()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        texts = list(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            if self.model_ is None:
                self._load()
            emb = hidden_state_embeddings(self.model_, self.tokenizer_, todo,
                                          batch_size=self.batch_size, max_length=self.max_length)
            if self.cache:
                self._cache.update(zip(todo, emb))
            else:
                self._cache = dict(zip(todo, emb))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        out = np.stack([self._cache[t] for t in texts])
        if not self.cache:
            self._cache = {}
        return out


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays -> (n,)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-12)


# ----------------------------------------------------------------------------- projection
class Projector:
    """2-D projection with the estimator contract: fit once, transform later points.

    Args:
        method: "umap" (umap-learn) or "pca" (fast; for tests and the torus smoke).
        n_neighbors, min_dist, metric, n_epochs: UMAP parameters.
        random_state: seeds UMAP/PCA; equal values give equal coordinates.
    """

    def __init__(self, *, method: str = "umap", n_neighbors: int = 15, min_dist: float = 0.1,
                 metric: str = "cosine", n_epochs: int | None = None,
                 random_state: int = 0) -> None:
        self.method = method
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state

    def _validate(self, x: np.ndarray) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if x.ndim != 2 or len(x) < 3:
            raise ValueError(f"need a 2-D array with at least 3 rows to fit, got {x.shape}")
        if self.method == "umap" and not 2 <= self.n_neighbors:
            raise ValueError(f"n_neighbors must be >= 2, got {self.n_neighbors!r}")
        if not 0.0 <= self.min_dist:
            raise ValueError(f"min_dist must be >= 0, got {self.min_dist!r}")

    def fit(self, x: np.ndarray) -> Projector:
        x = np.asarray(x, dtype=np.float32)
        self._validate(x)
        if self.method == "pca":
            from sklearn.decomposition import PCA

            self.model_ = PCA(n_components=2, random_state=self.random_state).fit(x)
        else:
            import umap

            self.model_ = umap.UMAP(
                n_components=2, n_neighbors=min(self.n_neighbors, len(x) - 1),
                min_dist=self.min_dist, metric=self.metric, n_epochs=self.n_epochs,
                random_state=self.random_state, transform_seed=self.random_state, n_jobs=1,
            ).fit(x)
        self.n_fit_ = len(x)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise ValueError("Projector is not fitted: call fit first")
        x = np.asarray(x, dtype=np.float32)
        if len(x) == 0:
            return np.zeros((0, 2))
        return np.asarray(self.model_.transform(x), dtype=float)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        self.fit(x)
        if self.method == "umap":
            return np.asarray(self.model_.embedding_, dtype=float)
        return self.transform(x)

    def get_params(self) -> dict[str, Any]:
        return {"method": self.method, "n_neighbors": self.n_neighbors,
                "min_dist": self.min_dist, "metric": self.metric, "n_epochs": self.n_epochs,
                "random_state": self.random_state}


@dataclass(frozen=True)
class Projection(Record):
    """2-D coordinates of an Agora run's points, in one coordinate system.

    Row i is a dev point (`kinds[i] == "dev"`, `rounds[i] == -1`, `ids[i]` = dev index), a new
    point (`kinds[i] == "new"`, `rounds[i]` = its round, `ids[i]` = its index in that round), a
    control run's new point (`kinds[i] == "control"`, same indexing) or a train point a control
    sampled around (`kinds[i] == "train"`, `rounds[i] == -1`, `ids[i]` = train index).
    `texts` is the hover text of each row; `params` the projector's parameters.
    """

    coords: tuple[tuple[float, float], ...]
    kinds: tuple[str, ...]
    ids: tuple[int, ...]
    rounds: tuple[int, ...]
    texts: tuple[str, ...]
    params: dict[str, Any]

    def select(self, kind: str, round_index: int | None = None) -> np.ndarray:
        """Row indices of `kind` ("dev"/"new"), optionally of one round."""
        return np.asarray([i for i, (k, r) in enumerate(zip(self.kinds, self.rounds))
                           if k == kind and (round_index is None or r == round_index)], dtype=int)


def _hover(item: Any) -> str:
    if isinstance(item, str):
        return item
    return "(" + ", ".join(f"{float(v):.2f}" for v in np.ravel(item)) + ")"


def project_rounds(
    result: Any, dev_points: Any, *, embed: Callable[[Any], np.ndarray] | None = None,
    projector: Projector | None = None, fit_on: Any = None, control: Any = None,
    train_points: Any = None,
) -> Projection:
    """Embed and project the dev set and every round's new points of an `AgoraResult`.

    The projector is fitted once (on `fit_on` if given, e.g. dev + initial train, else on dev)
    and every round's points are `transform`ed into the same coordinates.

    Args:
        result: an `agora.AgoraResult`.
        dev_points: the dev points (texts, or an (n, d) array) the run used.
        embed: points -> (n, d) array; default: identity for arrays, `SentenceEmbedder` for texts.
        projector: default `Projector()` (UMAP).
        fit_on: points to fit the projector on (default: dev).
        control: the run's random-source control (`AgoraResult`): its new points are added as
            "control" rows.
        train_points: the initial train points (the control's sources index them): the ones
            a control sampled around are added as "train" rows.
    """
    projector = projector or Projector()
    is_text = not isinstance(dev_points, np.ndarray)
    if embed is None:
        embed = SentenceEmbedder() if is_text else (lambda p: np.asarray(p, dtype=float))
    dev_list = list(dev_points) if is_text else np.asarray(dev_points)
    dev_emb = embed(dev_list)
    if fit_on is None:
        dev_xy = projector.fit_transform(dev_emb)
    else:
        projector.fit(embed(list(fit_on) if is_text else np.asarray(fit_on)))
        dev_xy = projector.transform(dev_emb)
    coords = [tuple(map(float, c)) for c in dev_xy]
    kinds, ids, rounds = ["dev"] * len(coords), list(range(len(coords))), [-1] * len(coords)
    texts = [_hover(p) for p in dev_list]
    def add(points: Sequence[Any], kind: str, index: int, row_ids: Sequence[int]) -> None:
        if not len(points):
            return
        pts = list(points) if is_text else np.asarray(points, dtype=float)
        xy = projector.transform(embed(pts))
        coords.extend(tuple(map(float, c)) for c in xy)
        kinds.extend([kind] * len(xy))
        ids.extend(int(i) for i in row_ids)
        rounds.extend([index] * len(xy))
        texts.extend(_hover(p) for p in points)

    for rnd in result.rounds:
        add(rnd.new_points, "new", rnd.index, range(rnd.n_new))
    if control is not None:
        for rnd in control.rounds:
            add(rnd.new_points, "control", rnd.index, range(rnd.n_new))
        if train_points is not None:
            used = sorted({int(s) for rnd in control.rounds for s in rnd.new_sources})
            add([train_points[i] for i in used], "train", -1, used)
    return Projection(tuple(coords), tuple(kinds), tuple(ids), tuple(rounds), tuple(texts),
                      projector.get_params())


__all__ = [
    "METHODS",
    "Projection",
    "Projector",
    "SentenceEmbedder",
    "cosine_similarity",
    "hidden_state_embeddings",
    "project_rounds",
]
