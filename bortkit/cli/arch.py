"""`bortkit arch SPEC [--json]`: exact parameter and operation counts of a BERT shape."""

from __future__ import annotations

import argparse
import json

from bortkit import arch
from bortkit.cli import args as types


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "arch",
        help="parameter and operation counts of a preset or D,A,H,I[,V] shape",
        description="Exact parameter counts (HF BertModel / BertForMaskedLM) and the analytic "
        "operation count i(xi) of a BERT-shaped architecture.",
    )
    p.add_argument("spec", type=types.arch_spec,
                   help=f"a preset ({', '.join(arch.PRESETS)}) or D,A,H,I[,V]")
    p.add_argument("--seq-len", type=types.positive_int, default=128,
                   help="sequence length for i(xi)")
    p.add_argument("--batch-size", type=types.positive_int, default=1, help="batch size for i(xi)")
    p.add_argument(
        "--reference", default="bert-large", type=types.arch_spec,
        help="spec that size fractions are relative to",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = arch.parse_spec(args.spec)
    ref = arch.parse_spec(args.reference)
    counts = arch.count_params(spec)
    ops = arch.count_ops(spec, seq_len=args.seq_len, batch_size=args.batch_size)
    frac = arch.size_fractions(spec, ref)
    record = {
        "spec": spec.to_dict(),
        **counts.to_dict(),
        "ops": ops.to_dict(),
        "reference": args.reference,
        "net_fraction": frac["net"],
        "effective_fraction": frac["effective"],
    }
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"{spec.label}  V={spec.vocab_size} P={spec.max_position_embeddings} "
          f"T={spec.type_vocab_size}")
    for key in ("total", "embeddings", "encoder", "pooler", "mlm_total", "effective"):
        print(f"  {key:<11}{record[key]:>15,}")
    print(f"  ops (n={args.seq_len}, b={args.batch_size}) {ops.total:,}")
    print(f"  net {frac['net']:.1%}, effective {frac['effective']:.1%} of {args.reference}")
    return 0


__all__ = ["register", "run"]
