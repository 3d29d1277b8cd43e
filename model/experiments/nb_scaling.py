#!/usr/bin/env python3
"""The naive-Bayes scaling experiment of 2026-12-07 (`2026-12-07-nb-scaling.md`).

`.venv-model/bin/python model/experiments/nb_scaling.py WORK_DIR BITS FIT[,FIT...]`

WORK_DIR holds the features `make model` cached (`target/model`, 2^20 buckets); for 2^21,
featurize the same texts first:
`target/release/examples/featurize --bits 21 --in target/model/texts.jsonl --out /tmp/feat21`.
A FIT is `plain` or `nb:ALPHA:POWER` (train.py's NB_ALPHA and NB_POWER), optionally followed
by `@POOL_WEIGHT` (train.py's POOL_WEIGHT, 0.3 unless given). Each is fitted on the train
split with train.py's own weights and `fit` (the weights are kept in WORK_DIR as
`coef-BITS-FIT.npy`, and a later run reuses them), and measured on the test split as
`measure.py` measures (float weights, no leaning merge), then with the weights quantised to
one linear byte (`train.quantise` with WEIGHT_LEVELS "linear", format 2's arithmetic) and to one
byte on a log scale ("log": 127 levels over 14 octaves below the largest weight, and zero).
`../shared/eval` is never read.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import train as T  # noqa: E402
import measure as M  # noqa: E402

work, T.BITS, fits = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
H = 1 << T.BITS
records, X, idx, part, tr, te = M.load(work)


def evaluate(name, coef, bias):
    M.evaluate(name, records, idx[te], part[te], X[te] @ coef + bias)




for name in fits:
    spec, _, pool_weight = name.partition("@")
    T.POOL_WEIGHT = float(pool_weight or 0.3)
    w, y = T.weights_for(records, idx, part)
    keep = tr & (w > 0)
    kind, *params = spec.split(":")
    T.NB_POWER = 0.0 if kind == "plain" else float(params[1])
    T.NB_ALPHA = 1.0 if kind == "plain" else float(params[0])
    saved = work / f"coef-{T.BITS}-{name.replace(':', '_').replace('@', '_')}.npy"
    coef, bias = M.fitted(name, saved, X[keep], y[keep], w[keep])
    evaluate(name, coef, bias)
    T.WEIGHT_LEVELS = "linear"
    codes, levels, scale = T.quantise(coef)
    print(f"{name}: {int((codes != 0).sum())} of {H} weights nonzero in one linear byte", flush=True)
    evaluate(name + " linear byte", np.concatenate([T.integer_weights(codes, levels) * scale, coef[H:]]), bias)
    T.WEIGHT_LEVELS = "log"
    codes, levels, scale = T.quantise(coef)
    evaluate(name + " log byte", np.concatenate([T.integer_weights(codes, levels) * scale, coef[H:]]), bias)
