"""The teacher-output cache's arrays: computing them from a teacher, checking and writing the
``.npy`` files, and slicing them (`CacheSplit`).

`bortkit.pretrain.cache` owns the records, the key and the get-or-build entry point
(`teacher_cache`); this module holds what does not depend on them, so neither file outgrows one
reason to change.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bortkit.pretrain import teacher_head
from bortkit.pretrain.mlm import mask_batch
from bortkit.records import atomic_write_text

SPLIT_ARRAYS = ("input_ids", "attention_mask", "masked", "labels", "offsets", "topk_values",
                "topk_indices")


@dataclass(frozen=True, eq=False)
class CacheSplit:
    """The rows of one split (numpy memmaps or torch tensors; not a `Record`).

    Attributes:
        input_ids: (n, seq) masked inputs.  attention_mask: (n, seq).
        masked: (n, seq) bool, the positions the mask selected.
        labels: (n, seq) restricted gold index, -100 where not masked or outside the Vocab.
        offsets: (n + 1,) row r's masked positions are rows offsets[r] … offsets[r+1] − 1 of
            the top-k arrays (row-major order of `masked`).
        values, indices: (m, top_k) the teacher's top-k logits and their restricted indices.
    """

    input_ids: Any
    attention_mask: Any
    masked: Any
    labels: Any
    offsets: Any
    values: Any
    indices: Any

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def rows(self, start: int, stop: int) -> CacheSplit:
        """Rows start … stop − 1 with their top-k rows (contiguous, no copy)."""
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return CacheSplit(self.input_ids[start:stop], self.attention_mask[start:stop],
                          self.masked[start:stop], self.labels[start:stop],
                          self.offsets[start:stop + 1] - lo, self.values[lo:hi],
                          self.indices[lo:hi])

    def to(self, device: str) -> CacheSplit:
        """Torch tensors on `device` (ids and indices as int64, values as float32)."""
        import torch

        def t(a: Any, dtype: Any) -> Any:
            return torch.as_tensor(np.array(a)).to(device=device, dtype=dtype)

        return CacheSplit(t(self.input_ids, torch.long), t(self.attention_mask, torch.long),
                          t(self.masked, torch.bool), t(self.labels, torch.long),
                          t(self.offsets, torch.long), t(self.values, torch.float32),
                          t(self.indices, torch.long))


def teacher_topk(name: str, blocks: Any, *, model: Any, tokenizer: Any, lookup: Any,
                 device: str, n_rows: int, seed: int, batch_size: int, mlm_probability: float,
                 top_k: int, values_dtype: str) -> dict[str, np.ndarray]:
    """Mask `n_rows` sequences of `blocks` and keep the teacher's top-k at masked positions.

    Args:
        name: "train" (a seeded permutation of the blocks per pass) or "heldout" (the first
            blocks, in order); the prefix of every returned array's name.
        blocks: (n, seq) token blocks.
        model: the teacher (`restricted_logits`), already on `device`.
        tokenizer: its tokenizer (masking).
        lookup: (V,) full id → restricted index (-1 outside the Vocab), a tensor.
        device: where the teacher runs.
        n_rows: sequences to store.
        seed: seeds the order and the masks.
        batch_size, mlm_probability, top_k, values_dtype: see `CacheConfig`.

    Returns:
        ``{f"{name}.{array}": ndarray}`` for every array of `SPLIT_ARRAYS`.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    if name == "train":  # a seeded permutation per pass over the blocks
        order = torch.cat([torch.randperm(len(blocks), generator=gen)
                           for _ in range(-(-n_rows // len(blocks)))])[:n_rows]
    else:  # the first held-out blocks, in order
        order = torch.arange(min(n_rows, len(blocks)))
    ids, masks, labels, values, indices, counts = [], [], [], [], [], []
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = blocks[order[start:start + batch_size]]
            inputs, full = mask_batch(batch, tokenizer, mlm_probability=mlm_probability,
                                      generator=gen)
            masked = full != -100
            attn = torch.ones_like(inputs)
            logits = teacher_head.restricted_logits(model, inputs.to(device), attn.to(device),
                                                   masked.to(device))  # (m, K)
            top = logits.float().topk(top_k, dim=-1)
            restricted = lookup[full.clamp(min=0)]
            restricted[~masked | (restricted < 0)] = -100
            ids.append(inputs)
            masks.append(masked)
            labels.append(restricted)
            values.append(top.values.cpu())
            indices.append(top.indices.cpu())
            counts.append(masked.sum(dim=1))
    offsets = np.concatenate([[0], np.cumsum(torch.cat(counts).numpy())]).astype(np.int64)
    k = int(lookup.max()) + 1
    idx_dtype = np.int16 if k < 2**15 else np.int32
    input_ids = torch.cat(ids).numpy()
    return {
        f"{name}.input_ids": input_ids.astype(np.int32),
        f"{name}.attention_mask": np.ones_like(input_ids, dtype=np.int8),
        f"{name}.masked": torch.cat(masks).numpy(),
        f"{name}.labels": torch.cat(labels).numpy().astype(np.int32),
        f"{name}.offsets": offsets,
        f"{name}.topk_values": torch.cat(values).numpy().astype(values_dtype),
        f"{name}.topk_indices": torch.cat(indices).numpy().astype(idx_dtype),
    }


def check_npy(path: Path, shape: tuple[int, ...], dtype: str) -> str | None:
    """Why the ``.npy`` file at `path` does not hold a whole `dtype` array of `shape` (None: it
    does): missing, no valid header, another shape or dtype, or a byte size that does not match
    (truncated)."""
    if not path.is_file():
        return f"{path.name} is missing"
    try:
        with open(path, "rb") as fh:
            fmt = np.lib.format
            version = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            found, _, found_dtype = read(fh)
            header = fh.tell()
    except (ValueError, OSError, SyntaxError) as exc:
        return f"{path.name} has no valid header ({exc})"
    if tuple(found) != tuple(shape) or found_dtype.str != np.dtype(dtype).str:
        return f"{path.name} holds {found_dtype} {tuple(found)}, meta.json says {dtype} {shape}"
    want = header + int(np.prod(shape, dtype=np.int64)) * found_dtype.itemsize
    size = path.stat().st_size
    if size != want:
        return f"{path.name} has {size} bytes, {want} expected (truncated?)"
    return None


def write_folder(folder: Path, arrays: dict[str, np.ndarray], texts: dict[str, str], *,
                 last: tuple[str, str], usable: Callable[[Path], bool]) -> None:
    """Write `arrays` (``<name>.npy``) and `texts` into a temporary sibling folder, `last` (name,
    text: the file whose presence marks a whole cache) after them, then rename it into place
    (moving a damaged folder aside first). Losing a race to another writer is fine when
    `usable(folder)` says the winner's folder is good."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    tmp.chmod(0o755)  # mkdtemp makes 0700; a cache is shared like any folder
    try:
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(a))
        for name, text in (*texts.items(), last):
            atomic_write_text(tmp / name, text)
        if folder.exists():  # a damaged cache: move it aside first (rename is atomic)
            trash = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old."))
            os.replace(folder, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:
        if not usable(folder):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["SPLIT_ARRAYS", "CacheSplit", "check_npy", "teacher_topk", "write_folder"]
