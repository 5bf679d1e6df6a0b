"""Agora's text samplers, the data-generating function g of paper (c), step 4.

Project choices (paper (c) gives no text sampler; bort-papers.md §5.2), both accepting a new
sentence when the cosine similarity of its MiniLM sentence embedding to the source lies in the
band ("similar, but neither too similar nor too different"), up to `n_per_source` per source:

* `MaskRefillSampler` — g(x): mask a fraction of x's word pieces and refill each with a token
  sampled from the teacher MLM (temperature `temperature`; special tokens and the original token
  excluded, so every masked position changes); `n_per_source · max_tries` proposals per source.
  The teacher may predict the full vocabulary (`BertForMaskedLM`) or a restricted one
  (`RestrictedBertForMaskedLM`, whose logits index ``model.vocab.ids``).
* `PoolSampler` — real unlabelled sentences (`bortkit.agora.pool`: IMDB train-split sentences,
  Wikipedia and Lee news text, disjoint from every evaluation split): the `n_per_source ·
  max_tries` pool sentences nearest to the source at or below the band's upper end are the
  proposals; a seeded choice of up to `n_per_source` of those inside the band is accepted.
  Its band is its own (`POOL_BAND`, project choice): a real sentence is almost never a
  paraphrase of a dev sentence. Measured on rt (300 dev sentences, the 20,000-sentence pool,
  MiniLM): the nearest pool sentence has cosine 0.54 at the median (10–90%: 0.44–0.64), the
  8th nearest 0.47 (0.38–0.58), so mask-and-refill's [0.8, 0.98] would accept almost nothing.
* `MixedSampler` — several samplers around the same sources (each up to `n_per_source`).

Every sampler sets `last_kinds_` (which sampler made each returned sentence) and
`last_proposals_` ({kind: proposals made}) after `sample`, which the loop records per round
(accepted proposals per mistake, by sampler). Implements `bortkit.agora.loop.Sampler`; torch is
imported lazily inside the methods.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bortkit.agora.records import AgoraConfig
from bortkit.embed import SentenceEmbedder, cosine_similarity
from bortkit.records import check_float, check_positive, check_positive_int


class MaskRefillSampler:
    """Mask-and-refill with an MLM, accepted inside a cosine band of sentence embeddings.

    Args:
        mlm: a `BertForMaskedLM` (the teacher), in eval mode.
        tokenizer: its tokenizer (must have a mask token).
        embedder: texts -> (n, d) array (default `embed.SentenceEmbedder()`).
        mask_prob: fraction of word pieces masked per proposal (at least one).
        temperature: softmax temperature of the refill.
        max_tries: proposals per wanted sample.
        max_length: truncation of sources in tokens.
        batch_size: MLM inference batch size.
    """

    kind = "mask-refill"

    def __init__(self, mlm: Any, tokenizer: Any, *, embedder: Any = None,
                 mask_prob: float = 0.15, temperature: float = 1.0, max_tries: int = 3,
                 max_length: int = 64, batch_size: int = 32) -> None:
        check_float("mask_prob", mask_prob, low=0.0, high=1.0, low_open=True)
        check_positive("temperature", temperature)
        check_positive_int("max_tries", max_tries)
        if tokenizer.mask_token_id is None:
            raise ValueError("tokenizer has no mask token: mask-and-refill needs one")
        if embedder is None:
            embedder = SentenceEmbedder()
        self.mlm, self.tokenizer, self.embedder = mlm, tokenizer, embedder
        self.mask_prob, self.temperature, self.max_tries = mask_prob, temperature, max_tries
        self.max_length, self.batch_size = max_length, batch_size
        self.last_kinds_: list[str] = []
        self.last_proposals_: dict[str, int] = {}

    def _restricted(self, torch: Any) -> tuple[Any, Any] | None:
        """(restricted index → full id, full id → restricted index or -1) of a restricted-head
        teacher (`RestrictedBertForMaskedLM.vocab`); None for a full-vocabulary MLM."""
        vocab = getattr(self.mlm, "vocab", None)
        if vocab is None or not hasattr(vocab, "lookup"):
            return None
        return (torch.as_tensor(vocab.ids, dtype=torch.long),
                torch.as_tensor(vocab.lookup(), dtype=torch.long))

    def propose(self, sources: Sequence[str], *, n: int, seed: int) -> list[list[str]]:
        """`n` refilled variants of each source (unfiltered; may repeat)."""
        import torch

        g = torch.Generator().manual_seed(int(seed))
        tok = self.tokenizer
        special = torch.tensor(sorted(set(tok.all_special_ids)))
        rows, owners = [], []
        for i, text in enumerate(sources):
            ids = tok(text, truncation=True, max_length=self.max_length)["input_ids"]
            rows += [ids] * n
            owners += [i] * n
        out: list[list[str]] = [[] for _ in sources]
        restricted = self._restricted(torch)
        if restricted is not None:  # logits index the Vocab: map ids both ways
            ids_of, index_of = restricted
            special_out = index_of[special]
            special_out = special_out[special_out >= 0]
        else:
            special_out = special
        self.mlm.eval()
        device = next(self.mlm.parameters()).device
        for b in range(0, len(rows), self.batch_size):
            batch = rows[b:b + self.batch_size]
            width = max(len(r) for r in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            att = torch.zeros_like(ids)
            for j, r in enumerate(batch):
                ids[j, :len(r)] = torch.tensor(r)
                att[j, :len(r)] = 1
            cand = (att == 1) & ~torch.isin(ids, special)  # (batch, width) maskable positions
            pick = (torch.rand(ids.shape, generator=g) < self.mask_prob) & cand
            for j in range(len(batch)):  # at least one masked position per proposal
                if not pick[j].any() and cand[j].any():
                    pos = torch.nonzero(cand[j]).squeeze(1)
                    pick[j, pos[torch.randint(len(pos), (1,), generator=g)]] = True
            original = ids[pick]  # (n_masked,)
            masked = ids.clone()
            masked[pick] = tok.mask_token_id
            with torch.inference_mode():
                # the MLM may sit on CUDA (load_teacher's "auto"); masking and sampling stay on
                # the CPU generator, so only the forward pass moves
                hidden = self.mlm.bert(input_ids=masked.to(device),
                                       attention_mask=att.to(device)).last_hidden_state
                logits = self.mlm.cls(hidden[pick.to(device)]).float().cpu() / self.temperature
                logits[:, special_out] = -float("inf")
                at = torch.arange(len(original))
                orig_out = original if restricted is None else index_of[original]
                kept = orig_out >= 0  # an original outside the Vocab cannot be drawn anyway
                logits[at[kept], orig_out[kept]] = -float("inf")  # force a change
                fill = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(1)
                if restricted is not None:
                    fill = ids_of[fill]  # restricted index → full-vocabulary id
            masked[pick] = fill
            for j in range(len(batch)):
                text = tok.decode(masked[j, :int(att[j].sum())], skip_special_tokens=True)
                out[owners[b + j]].append(text)
        return out

    def sample(self, sources: Sequence[str], *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[list[str], np.ndarray]:
        sources = list(sources)
        self.last_kinds_, self.last_proposals_ = [], {self.kind: 0}
        if not sources:
            return [], np.zeros(0, dtype=int)
        proposals = self.propose(sources, n=n_per_source * self.max_tries, seed=seed)
        self.last_proposals_ = {self.kind: sum(map(len, proposals))}
        flat, owner = [], []
        for i, props in enumerate(proposals):
            seen = {sources[i]}
            for p in props:
                if p.strip() and p not in seen:
                    seen.add(p)
                    flat.append(p)
                    owner.append(i)
        if not flat:
            return [], np.zeros(0, dtype=int)
        e_src = np.asarray(self.embedder(sources))
        e_new = np.asarray(self.embedder(flat))
        owner_arr = np.asarray(owner)
        sim = cosine_similarity(e_new, e_src[owner_arr])
        counts = np.zeros(len(sources), dtype=int)
        keep = []
        for k in range(len(flat)):
            i = owner[k]
            if band[0] <= sim[k] <= band[1] and counts[i] < n_per_source:
                keep.append(k)
                counts[i] += 1
        self.last_similarity_ = sim
        self.last_acceptance_ = len(keep) / max(1, len(flat))
        self.last_kinds_ = [self.kind] * len(keep)
        return [flat[k] for k in keep], owner_arr[keep] if keep else np.zeros(0, dtype=int)


#: The pool sampler's own acceptance band (see the module doc for the measurement).
POOL_BAND = (0.45, 0.95)


class PoolSampler:
    """Real unlabelled sentences near each source, inside the cosine band.

    Args:
        pool: the unlabelled sentences (`bortkit.agora.pool.build_pool(...).texts`).
        band: (low, high) accepted cosine similarity, inside [-1, 1]; None: the band the loop
            passes (`AgoraConfig.band`).
        embedder: texts -> (n, d) array (default `embed.SentenceEmbedder()`); the pool is
            embedded once, on first use (or pass `pool_embeddings`).
        max_tries: proposals per wanted sample (the nearest pool sentences at or below the
            band's upper end).
        pool_embeddings: precomputed (len(pool), d) embeddings of `pool` (e.g. from
            `bortkit.agora.pool.pool_embeddings`, cached on disk).

    Raises:
        ValueError: an empty pool, or embeddings that do not match it.
    """

    kind = "pool"

    def __init__(self, pool: Sequence[str], *, embedder: Any = None, max_tries: int = 3,
                 band: tuple[float, float] | None = POOL_BAND,
                 pool_embeddings: np.ndarray | None = None) -> None:
        pool = list(pool)
        if not pool:
            raise ValueError("pool is empty: the pool sampler needs unlabelled sentences "
                             "(bortkit.agora.pool.build_pool)")
        check_positive_int("max_tries", max_tries)
        self.band = None if band is None else AgoraConfig(band=band).band  # same validation
        if pool_embeddings is not None and len(pool_embeddings) != len(pool):
            raise ValueError(f"pool_embeddings has {len(pool_embeddings)} rows for a pool of "
                             f"{len(pool)} sentences")
        self.pool, self.max_tries = pool, max_tries
        self.embedder = embedder if embedder is not None else SentenceEmbedder()
        self.pool_embeddings_ = (None if pool_embeddings is None
                                 else _unit(np.asarray(pool_embeddings, dtype=np.float32)))
        self.last_kinds_: list[str] = []
        self.last_proposals_: dict[str, int] = {}

    def _pool_embeddings(self) -> np.ndarray:
        if self.pool_embeddings_ is None:
            self.pool_embeddings_ = _unit(np.asarray(self.embedder(self.pool), dtype=np.float32))
        return self.pool_embeddings_

    def sample(self, sources: Sequence[str], *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[list[str], np.ndarray]:
        sources = list(sources)
        self.last_kinds_, self.last_proposals_ = [], {self.kind: 0}
        if not sources:
            return [], np.zeros(0, dtype=int)
        band = self.band or band
        rng = np.random.default_rng(seed)
        e_pool = self._pool_embeddings()
        sim = _unit(np.asarray(self.embedder(sources), dtype=np.float32)) @ e_pool.T
        n_prop = n_per_source * self.max_tries
        taken: set[int] = set()
        out, owner, n_proposed = [], [], 0
        for i, row in enumerate(sim):  # (len(pool),) similarities of source i
            below = np.flatnonzero(row <= band[1] + 1e-6)
            near = below[np.argsort(-row[below], kind="stable")[:n_prop]]
            near = [j for j in near if self.pool[j] != sources[i]]
            n_proposed += len(near)
            inside = [j for j in near if row[j] >= band[0] - 1e-6 and j not in taken]
            for j in rng.permutation(inside)[:n_per_source] if inside else []:
                taken.add(int(j))  # one pool sentence once per call
                out.append(self.pool[int(j)])
                owner.append(i)
        self.last_proposals_ = {self.kind: n_proposed}
        self.last_kinds_ = [self.kind] * len(out)
        return out, np.asarray(owner, dtype=int)


class MixedSampler:
    """Several samplers around the same sources; each contributes up to `n_per_source`.

    A sentence proposed by two samplers is kept once (from the first). `last_kinds_` and
    `last_proposals_` name each sampler by its `kind`.
    """

    kind = "mixed"

    def __init__(self, samplers: Sequence[Any]) -> None:
        self.samplers = list(samplers)
        if not self.samplers:
            raise ValueError("samplers must not be empty")
        self.last_kinds_: list[str] = []
        self.last_proposals_: dict[str, int] = {}

    def sample(self, sources: Sequence[str], *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[list[str], np.ndarray]:
        out: list[str] = []
        owner: list[int] = []
        kinds: list[str] = []
        proposals: dict[str, int] = {}
        for k, sampler in enumerate(self.samplers):
            new, src = sampler.sample(sources, n_per_source=n_per_source, band=band,
                                      seed=int(np.random.SeedSequence([seed, k]).generate_state(
                                          1)[0] % 2**31))
            name = str(getattr(sampler, "kind", type(sampler).__name__))
            sub_kinds = list(getattr(sampler, "last_kinds_", None) or [name] * len(new))
            for kind, n in (getattr(sampler, "last_proposals_", None) or {}).items():
                proposals[kind] = proposals.get(kind, 0) + int(n)
            seen = set(out)
            for text, s, kind in zip(new, np.asarray(src, dtype=int), sub_kinds):
                if text not in seen:
                    seen.add(text)
                    out.append(text)
                    owner.append(int(s))
                    kinds.append(kind)
        self.last_kinds_, self.last_proposals_ = kinds, proposals
        return out, np.asarray(owner, dtype=int)


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine similarity = dot product)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


__all__ = ["POOL_BAND", "MaskRefillSampler", "MixedSampler", "PoolSampler"]
