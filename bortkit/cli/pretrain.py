"""`bortkit pretrain --arch SPEC --steps N --out DIR [--resume]`: KD pretraining from the CLI.

Multi-GPU / multi-node: ``accelerate launch -m bortkit.cli pretrain ...`` or
``torchrun --nproc_per_node 4 -m bortkit.cli pretrain ...`` run the same loop data-parallel.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from bortkit.cli import args as types
from bortkit.data.corpus import Corpus, build_corpus
from bortkit.data.readers import decode
from bortkit.pretrain.cache import CacheConfig, teacher_cache
from bortkit.pretrain.distill import KD_VARIANTS, OBJECTIVES, build_student
from bortkit.pretrain.engine import pretrain, resolve_arch
from bortkit.pretrain.init import INITS
from bortkit.pretrain.mlm import corpus_blocks
from bortkit.pretrain.records import PretrainConfig
from bortkit.pretrain.teacher import TeacherConfig, load_teacher, load_tokenizer

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pretrain",
        help="pretrain an architecture by knowledge distillation (or plain MLM)",
        description="Pretrain a BertForMaskedLM of shape SPEC by KD from the MLM-adapted MiniLM "
        "teacher on the builtin corpus; checkpoints, exact --resume, export to OUT/model.",
    )
    p.add_argument("--arch", required=True, type=types.arch_or_folder,
                   help="a preset, D,A,H,I[,V], or an FPTAS output folder (its chosen shape)")
    p.add_argument("--steps", type=types.positive_int, required=True, help="optimiser steps")
    p.add_argument("--out", required=True, type=types.nonempty,
                   help="output folder (checkpoints, model/, result.json)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--objective", default="kd", choices=OBJECTIVES)
    p.add_argument("--init", default=None, choices=INITS,
                   help="student init (KD from the default/smoke teacher, read from the teacher "
                   "cache: default pca; other routes: random only)")
    p.add_argument("--batch-size", type=types.positive_int, default=16)
    p.add_argument("--seq-len", type=types.seq_len, default=64)
    p.add_argument("--lr", type=types.positive_float, default=1e-3)
    p.add_argument("--warmup-ratio", type=types.warmup_ratio, default=0.06)
    p.add_argument("--weight-decay", type=types.nonnegative_float, default=0.01)
    p.add_argument("--temperature", type=types.positive_float, default=2.0)
    p.add_argument("--w-mlm", type=types.nonnegative_float, default=0.1)
    p.add_argument("--w-kd", type=types.nonnegative_float, default=0.5)
    p.add_argument("--kd-variant", default="kl", choices=KD_VARIANTS)
    p.add_argument("--clip-weights", type=types.positive_float, default=None,
                   help="clamp weights to [-c, c]")
    p.add_argument("--eval-every", type=types.nonnegative_int, default=50)
    p.add_argument("--checkpoint-every", type=types.nonnegative_int, default=100)
    p.add_argument("--eval-blocks", type=types.positive_int, default=128,
                   help="held-out blocks evaluated")
    p.add_argument("--seed", type=types.seed, default=0)
    p.add_argument("--teacher", default="default",
                   help="'default' (bortkit.pretrain.teacher.load_teacher), 'smoke', or a "
                   "model folder")
    p.add_argument("--teacher-steps", type=types.positive_int, default=None,
                   help="steps of the built-in teacher's one-off MLM build (default: "
                        "TeacherConfig's; fewer is quicker and weaker, cached separately)")
    p.add_argument("--corpus-file", default=None,
                   help="plain-text corpus (paragraphs split by blank lines; the last 10%% are "
                   "held out) instead of the builtin corpus")
    p.add_argument("--threads", type=types.nonnegative_int, default=0,
                   help="torch threads (0 = torch default)")
    types.add_device(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _teacher_config(name: str, steps: int | None, device: str = "auto") -> TeacherConfig:
    """The built-in teacher's config: smoke or default, with --teacher-steps if given."""
    # device is not part of the teacher's cache key: a build on the GPU serves the CPU too
    config = (TeacherConfig.smoke() if name == "smoke" else TeacherConfig()).replace(
        device=device)
    if steps is None:
        return config
    # The head-only warm-up is part of the steps: keep it shorter than the whole build.
    return config.replace(steps=steps, head_only_steps=min(config.head_only_steps, steps - 1))


def _teacher(name: str, objective: str, steps: int | None = None,
             device: str = "auto") -> tuple[Any, Any]:
    if name in ("default", "smoke"):
        return load_teacher(_teacher_config(name, steps, device))
    path = Path(name).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"--teacher {name!r}: not 'default', 'smoke' or a model folder")
    from transformers import AutoModel, AutoTokenizer, BertForMaskedLM

    model = (AutoModel if objective == "hidden" else BertForMaskedLM).from_pretrained(path)
    if (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file():
        tokenizer = AutoTokenizer.from_pretrained(path)
    else:
        tokenizer = load_tokenizer()
    return model.eval(), tokenizer


def _corpus(path: str | None) -> Corpus:
    if path is None:
        return build_corpus()
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"--corpus-file {path!r}: no such file")
    text, _ = decode(file, file.read_bytes())  # the user-file encodings rule
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    if len(paras) < 2:
        raise ValueError(f"--corpus-file {path!r} needs at least 2 paragraphs (blank-line split)")
    n_held = max(1, len(paras) // 10)
    return Corpus.from_texts(paras[:-n_held], paras[-n_held:])


def run(args: argparse.Namespace) -> int:
    device = types.require_device(args.device)
    spec = resolve_arch(args.arch)
    cfg = PretrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay, objective=args.objective, w_mlm=args.w_mlm,
        w_kd=args.w_kd, temperature=args.temperature, kd_variant=args.kd_variant,
        clip_weights=args.clip_weights, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, seed=args.seed, seq_len=args.seq_len,
        eval_blocks=args.eval_blocks, init=args.init or "random")
    if args.objective == "kd" and args.teacher in ("default", "smoke"):
        # KD from the built-in teacher reads its outputs from the teacher cache (built once)
        tc = _teacher_config(args.teacher, args.teacher_steps, device)
        corpus = _corpus(args.corpus_file) if args.corpus_file else None
        cache = teacher_cache(CacheConfig(seq_len=cfg.seq_len, teacher=tc, device=device),
                              corpus=corpus)
        res = pretrain(spec, cfg.replace(init=args.init or "pca"), tokenizer=load_tokenizer(),
                       cache=cache, corpus=corpus, output_dir=args.out, resume=args.resume,
                       progress=not args.no_progress, threads=args.threads or None,
                       device=device)
        _report(spec, res)
        return 0
    if cfg.init != "random":
        raise ValueError(f"--init {cfg.init} needs the teacher cache: --objective kd with "
                         f"--teacher default or smoke")
    if args.objective == "mlm" and args.teacher in ("default", "smoke"):
        teacher, tokenizer = None, load_tokenizer()
    else:
        teacher, tokenizer = _teacher(args.teacher, args.objective, args.teacher_steps, device)
    blocks = corpus_blocks(_corpus(args.corpus_file), tokenizer, seq_len=cfg.seq_len,
                           max_train_blocks=cfg.max_train_blocks,
                           max_heldout_blocks=cfg.eval_blocks, max_chars=cfg.max_chars)
    student = build_student(spec, tokenizer, seed=args.seed)
    res = pretrain(student, cfg, tokenizer=tokenizer, train_blocks=blocks.train,
                   heldout_blocks=blocks.heldout, teacher=teacher, output_dir=args.out,
                   resume=args.resume, progress=not args.no_progress,
                   threads=args.threads or None, device=device)
    _report(spec, res)
    return 0


def _report(spec: Any, res: Any) -> None:
    start = f"resumed at {res.resumed_from}" if res.resumed_from else "from scratch"
    print(f"{spec.label}: {res.steps} steps ({start}), "
          f"final train loss {res.final_train_loss:.6f}, held-out accuracy "
          f"{res.final.accuracy:.4f} (loss {res.final.loss:.4f}); model in {res.model_dir}")


__all__ = ["register", "run"]
