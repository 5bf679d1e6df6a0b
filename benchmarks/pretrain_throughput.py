"""Throughput of bortkit's KD training step versus a naive one, as a ratio in one run.

Both steps train the same student against the same teacher on the same batches and masks, with
the same loss (0.1·CE + 0.5·T²·KL at masked positions, T = 2), backward and AdamW step:

- ours:  `bortkit.pretrain.distill.make_distiller(...)`: encoder on the whole sequence, LM head
         (and the teacher's LM head) ONLY at the masked positions
         (`bortkit.pretrain.mlm.masked_logits`);
- naive: HF `BertForMaskedLM(...)` forward for student and teacher, i.e. full-sequence ×
         full-vocabulary logits (batch, seq, V), then the masked positions are selected.

Usage (from the repository root):
    .venv/bin/python benchmarks/pretrain_throughput.py                     # Bort-like small
    .venv/bin/python benchmarks/pretrain_throughput.py --arch 4,8,512,384 --steps 8
Prints a markdown table (tokens/s and the ratio); --json writes the numbers too.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import bortkit  # noqa: F401 - offline environment before transformers
from bortkit.arch import parse_spec
from bortkit.pretrain import distill, mlm
from bortkit.pretrain.records import PretrainConfig
from bortkit.pretrain.teacher import load_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="4,4,256,192", help="student D,A,H,I (teacher vocabulary)")
    ap.add_argument("--teacher-arch", default="minilm-l6-h384",
                    help="teacher shape (random weights: speed does not depend on them)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per method and round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (median reported)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = ap.parse_args()

    import torch  # after argument parsing: --help stays instant
    from transformers import BertForMaskedLM

    if args.threads:
        torch.set_num_threads(args.threads)
    tok = load_tokenizer()
    spec, t_spec = parse_spec(args.arch), parse_spec(args.teacher_arch)
    torch.manual_seed(0)
    teacher = BertForMaskedLM(t_spec.to_bert_config()).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    cfg = PretrainConfig()
    gen = torch.Generator().manual_seed(0)
    n_batches = args.steps
    data = [mlm.mask_batch(torch.randint(1000, len(tok), (args.batch_size, args.seq_len),
                                         generator=gen), tok, generator=gen)
            for _ in range(n_batches)]

    def naive_step(student, opt, inputs, labels):
        attn = torch.ones_like(inputs)
        s_logits = student(input_ids=inputs, attention_mask=attn).logits  # (B, S, V)
        with torch.no_grad():
            t_logits = teacher(input_ids=inputs, attention_mask=attn).logits  # (B, S, V)
        sel = labels != -100
        parts = distill.kd_loss(s_logits[sel], t_logits[sel], labels[sel], w_mlm=cfg.w_mlm,
                                w_kd=cfg.w_kd, temperature=cfg.temperature)
        parts.total.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def ours_step(module, opt, inputs, labels):
        parts = module(inputs, torch.ones_like(inputs), labels, teacher, cfg)
        parts.total.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def build(kind):
        student = distill.build_student(spec, tok, seed=0).train()
        if kind == "ours":
            module = distill.make_distiller(student, teacher, objective="kd")
            return module, torch.optim.AdamW(module.parameters(), lr=1e-4), ours_step
        return student, torch.optim.AdamW(student.parameters(), lr=1e-4), naive_step

    methods = {kind: build(kind) for kind in ("naive", "ours")}
    for model, opt, step in methods.values():  # warm-up
        step(model, opt, *data[0])
    times: dict[str, list[float]] = {k: [] for k in methods}
    for _ in range(args.rounds):
        for kind, (model, opt, step) in methods.items():
            t0 = time.perf_counter()
            for inputs, labels in data:
                step(model, opt, inputs, labels)
            times[kind].append(time.perf_counter() - t0)
    tokens = args.batch_size * args.seq_len * n_batches
    tps = {k: tokens / statistics.median(v) for k, v in times.items()}
    ratio = tps["ours"] / tps["naive"]
    masked = sum(int((lab != -100).sum()) for _, lab in data) / (tokens)
    record = {"arch": spec.label, "teacher": t_spec.label, "vocab": len(tok),
              "batch_size": args.batch_size, "seq_len": args.seq_len, "steps": n_batches,
              "rounds": args.rounds, "threads": torch.get_num_threads(),
              "masked_fraction": round(masked, 4), "tokens_per_s": tps, "ratio": ratio,
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "torch": torch.__version__}
    print(f"student {spec.label}, teacher {t_spec.label} (V={len(tok)}), batch "
          f"{args.batch_size} x seq {args.seq_len}, {torch.get_num_threads()} threads, "
          f"median of {args.rounds} rounds x {n_batches} steps, masked {masked:.1%}")
    print("| step | tokens/s | vs naive |\n|---|---:|---:|")
    print(f"| naive (full-sequence, full-vocabulary logits) | {tps['naive']:,.0f} | 1.00x |")
    print(f"| bortkit KD (masked-position logits) | {tps['ours']:,.0f} | {ratio:.2f}x |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2)


if __name__ == "__main__":
    main()
