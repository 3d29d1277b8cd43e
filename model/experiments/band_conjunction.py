#!/usr/bin/env python3
"""Length-band conjunctions (2026-12-08): does a second copy of every hashed feature, keyed by
the message's length band, let one linear model weigh a word differently in a short dialogue
turn and in a long answer?

`.venv-model/bin/python model/experiments/band_conjunction.py WORK_DIR FIT[,FIT...]`

WORK_DIR holds the features `make model` cached (`target/model`). A FIT is `plain` (the
features as cached) or `band:EDGES` (EDGES as `80-300`: the bands are the message lengths in
characters below each edge, and the rest), optionally followed by `@WEIGHT`, the conjunct
copy's value relative to the plain feature (1 unless given), and optionally by `~dual`
(liblinear's dual solver, train.py's DUAL). The conjunct of hashed bucket j in
band k is bucket `(j * 0x9E3779B1 + (k + 1) * 0x7F4A7C15) mod 2^BITS`: a permutation of the
table per band, which collides as a hash of (feature, band) would. The structural signals are
not copied. Each fit uses train.py's weights and `fit` on the train split and is measured by
nb_scaling.py's `evaluate` (float weights, no leaning merge). `../shared/eval` is never read.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.datasets import load_svmlight_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import train as T  # noqa: E402

work, fits = Path(sys.argv[1]), sys.argv[2].split(",")
H = 1 << T.BITS
records = [json.loads(line) for line in (work / "texts.jsonl").open(encoding="utf-8")]
X, _ = load_svmlight_file(str(work / "features.svm"), n_features=H + T.N_STRUCTURAL, zero_based=True)
X = X.tocsr()
rows = np.loadtxt(work / "rows.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
idx, part = rows[:, 0], rows[:, 1]
tr = np.array([records[i]["split"] == "train" for i in idx])
te = ~tr
length = np.array([len(records[i]["text"]) for i in idx])


def evaluate(name, coef, bias, Xs):
    sc = T.message_scores(idx[te], part[te], Xs[te] @ coef + bias)
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
    for lo, hi in ((0, 80), (80, 300), (300, 1000), (1000, 1 << 30)):
        ks = [i for i in own if lo <= len(records[i]["text"]) < hi]
        pos = [i for i in ks if records[i]["y"] == 1]
        neg = [i for i in ks if records[i]["y"] == 0]
        out[f"own_{lo}-{hi}@own_t"] = [round(sum(sc[i] > t for i in pos) / max(1, len(pos)), 3),
                                       round(sum(sc[i] > t for i in neg) / max(1, len(neg)), 4)]
    dialogue = sorted(sc[i] for i in pool if records[i]["y"] == 0)
    td = dialogue[int(len(dialogue) * 0.95)]
    pos = [sc[i] for i in own if records[i]["y"] == 1]
    neg = [sc[i] for i in own if records[i]["y"] == 0]
    out["own@dialogue5%"] = [round(sum(s > td for s in pos) / len(pos), 4),
                             round(sum(s > td for s in neg) / len(neg), 4)]
    print(name, json.dumps(out, ensure_ascii=False), flush=True)


def with_bands(edges, weight):
    """X with each row's hashed features copied once more into its band's permuted buckets."""
    band = np.searchsorted(np.array(edges), length, side="right")
    A = X.tocoo()
    hashed = A.col < H
    r, c, v = A.row[hashed], A.col[hashed].astype(np.int64), A.data[hashed]
    moved = (c * 0x9E3779B1 + (band[r] + 1) * 0x7F4A7C15) % H
    extra = csr_matrix((v * weight, (r, moved)), shape=X.shape)
    return (X + extra).tocsr()


w, y = T.weights_for(records, idx, part)
keep = tr & (w > 0)
for name in fits:
    spec, _, weight = name.partition("@")
    weight, _, solver = weight.partition("~")
    T.DUAL = solver == "dual"
    kind, _, edges = spec.partition(":")
    Xs = X if kind == "plain" else with_bands([int(e) for e in edges.split("-")], float(weight or 1.0))
    saved = work / f"coef-band-{name.replace(':', '_').replace('@', '_')}.npy"
    if saved.exists():
        *coef, bias = np.load(saved)
        coef = np.array(coef)
    else:
        t0 = time.time()
        coef, bias = T.fit(Xs[keep], y[keep], w[keep])
        print(f"{name}: fit {time.time() - t0:.0f} s", flush=True)
        np.save(saved, np.append(coef, bias))
    evaluate(name, coef, bias, Xs)
