"""Agora's text sampler, the data-generating function g of paper (c), step 4.

Project choice (paper (c) gives no text sampler; bort-papers.md §5.2): `MaskRefillSampler` —
g(x): mask a fraction of x's word pieces and refill each with a token sampled from the teacher
MLM (temperature `temperature`; special tokens and the original token excluded, so every masked
position changes); accept a proposal when the cosine similarity of its MiniLM sentence embedding
to the source lies in the band ("similar, but neither too similar nor too different"); up to
`n_per_source` accepted per source from `n_per_source · max_tries` proposals.

Implements `bortkit.agora.loop.Sampler`; torch is imported lazily inside the methods.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

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
        self.mlm.eval()
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
                hidden = self.mlm.bert(input_ids=masked, attention_mask=att).last_hidden_state
                logits = self.mlm.cls(hidden[pick]).float() / self.temperature  # (n_masked, V)
                logits[:, special] = -float("inf")
                logits[torch.arange(len(original)), original] = -float("inf")  # force a change
                fill = torch.multinomial(logits.softmax(-1), 1, generator=g).squeeze(1)
            masked[pick] = fill
            for j in range(len(batch)):
                text = tok.decode(masked[j, :int(att[j].sum())], skip_special_tokens=True)
                out[owners[b + j]].append(text)
        return out

    def sample(self, sources: Sequence[str], *, n_per_source: int, band: tuple[float, float],
               seed: int) -> tuple[list[str], np.ndarray]:
        sources = list(sources)
        if not sources:
            return [], np.zeros(0, dtype=int)
        proposals = self.propose(sources, n=n_per_source * self.max_tries, seed=seed)
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
        return [flat[k] for k in keep], owner_arr[keep] if keep else np.zeros(0, dtype=int)


__all__ = ["MaskRefillSampler"]
