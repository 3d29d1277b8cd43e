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
`measure.py` (float weights, no leaning merge). `../shared/eval` is never read.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import train as T  # noqa: E402
import measure as M  # noqa: E402

work, fits = Path(sys.argv[1]), sys.argv[2].split(",")
records, X, idx, part, tr, te = M.load(work)
length = np.array([len(records[i]["text"]) for i in idx])


w, y = T.weights_for(records, idx, part)
keep = tr & (w > 0)
for name in fits:
    spec, _, weight = name.partition("@")
    weight, _, solver = weight.partition("~")
    T.DUAL = solver == "dual"
    kind, _, edges = spec.partition(":")
    # train.py's own copies: the copy weighs 1/PLAIN_FACTOR of the feature.
    T.BANDS = [] if kind == "plain" else [int(e) for e in edges.split("-")]
    T.PLAIN_FACTOR = 1.0 / float(weight or 1.0)
    Xs = T.with_bands(X, length)
    saved = work / f"coef-band-{name.replace(':', '_').replace('@', '_')}.npy"
    coef, bias = M.fitted(name, saved, Xs[keep], y[keep], w[keep])
    M.evaluate(name, records, idx[te], part[te], Xs[te] @ coef + bias)
