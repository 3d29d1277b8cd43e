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
`model/sweep.py` measures (float weights, no leaning merge), then with the weights quantised to
one linear byte (`train.quantise` with WEIGHT_LEVELS "linear", format 2's arithmetic) and to one
byte on a log scale ("log": 127 levels over 14 octaves below the largest weight, and zero).
`../shared/eval` is never read.
"""
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.datasets import load_svmlight_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import train as T  # noqa: E402

work, T.BITS, fits = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
H = 1 << T.BITS
records = [json.loads(line) for line in (work / "texts.jsonl").open(encoding="utf-8")]
X, _ = load_svmlight_file(str(work / "features.svm"), n_features=H + T.N_STRUCTURAL, zero_based=True)
X = X.tocsr()
rows = np.loadtxt(work / "rows.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
idx, part = rows[:, 0], rows[:, 1]
tr = np.array([records[i]["split"] == "train" for i in idx])
te = ~tr


def evaluate(name, coef, bias):
    sc = T.message_scores(idx[te], part[te], X[te] @ coef + bias)
    own = [i for i in sc if records[i]["source"] == "own" and records[i]["author"] != "zB"]
    t, rec = T.recall_at_1pct(records, sc, own)
    out = {"own@1%": round(rec, 4)}
    out["zB@1%"] = round(T.recall_at_1pct(records, sc, [i for i in sc if records[i]["author"] == "zB"])[1], 4)
    pool = [i for i in sc if records[i]["source"] != "own"]
    out["pool@1%"] = round(T.recall_at_1pct(records, sc, pool)[1], 4)
    for src in ("taskmaster", "xrisawoz", "selfinstruct_human", "mgsm_exemplars"):
        ks = [i for i in pool if records[i]["source"] == src]
        what = "false_blocks" if src in ("taskmaster", "xrisawoz") else "recall"
        out[f"{src}_{what}@own_t"] = round(sum(sc[i] > t for i in ks) / len(ks), 4)
    by_lang = defaultdict(lambda: [0, 0])
    for i in own:
        if records[i]["y"] == 1:
            by_lang[records[i]["lang"]][0] += 1
            by_lang[records[i]["lang"]][1] += sc[i] > t
    out["lowest_languages"] = sorted((round(b / a, 3), lang) for lang, (a, b) in by_lang.items())[:4]
    short = [i for i in own if records[i]["y"] == 1 and len(records[i]["text"]) < 80]
    out["own_under_80_chars"] = round(sum(sc[i] > t for i in short) / len(short), 3)
    # At the threshold that blocks 5% of the real dialogue turns never trained on (Taskmaster
    # and X-RiSAWOZ together): the project's held-out recall and false blocks.
    dialogue = sorted(sc[i] for i in pool if records[i]["y"] == 0)
    td = dialogue[int(len(dialogue) * 0.95)]
    pos = [sc[i] for i in own if records[i]["y"] == 1]
    neg = [sc[i] for i in own if records[i]["y"] == 0]
    out["own@dialogue5%"] = [round(sum(s > td for s in pos) / len(pos), 4),
                             round(sum(s > td for s in neg) / len(neg), 4)]
    xr = defaultdict(lambda: [0, 0])
    for i in pool:
        if records[i]["source"] == "xrisawoz":
            xr[records[i]["lang"]][0] += 1
            xr[records[i]["lang"]][1] += sc[i] > t
    out["xrisawoz_false_blocks_by_lang@own_t"] = {k: round(b / a, 3) for k, (a, b) in sorted(xr.items())}
    print(name, json.dumps(out, ensure_ascii=False), flush=True)


for name in fits:
    spec, _, pool_weight = name.partition("@")
    T.POOL_WEIGHT = float(pool_weight or 0.3)
    w, y = T.weights_for(records, idx, part)
    keep = tr & (w > 0)
    kind, *params = spec.split(":")
    T.NB_POWER = 0.0 if kind == "plain" else float(params[1])
    T.NB_ALPHA = 1.0 if kind == "plain" else float(params[0])
    saved = work / f"coef-{T.BITS}-{name.replace(':', '_').replace('@', '_')}.npy"
    if saved.exists():
        *coef, bias = np.load(saved)
        coef = np.array(coef)
    else:
        t0 = time.time()
        coef, bias = T.fit(X[keep], y[keep], w[keep])
        print(f"{name}: fit {time.time() - t0:.0f} s", flush=True)
        np.save(saved, np.append(coef, bias))
    evaluate(name, coef, bias)
    T.WEIGHT_LEVELS = "linear"
    codes, levels, scale = T.quantise(coef)
    print(f"{name}: {int((codes != 0).sum())} of {H} weights nonzero in one linear byte", flush=True)
    evaluate(name + " linear byte", np.concatenate([T.integer_weights(codes, levels) * scale, coef[H:]]), bias)
    T.WEIGHT_LEVELS = "log"
    codes, levels, scale = T.quantise(coef)
    evaluate(name + " log byte", np.concatenate([T.integer_weights(codes, levels) * scale, coef[H:]]), bias)
