"""The measurement of the fit experiments (`nb_scaling.py`, `band_conjunction.py`): a fit's
raw row scores on the test split, combined as the filter combines them (float weights, no
leaning merge, as `model/sweep.py`), printed as one JSON line. `../shared/eval` is never read.

- `own@1%`, `zB@1%`, `pool@1%`: recall at each set's own 1%-false-block threshold (the project's
  held-out texts of the first 15 codes, the 16 further languages, the pool's test sources);
- at the `own` threshold: Taskmaster's and X-RiSAWOZ's false blocks (X-RiSAWOZ's by language
  too), Self-Instruct's and MGSM's recall, the four lowest languages, and `own` recall and
  false blocks by length band;
- `own@dialogue5%`: `own` recall and false blocks at the threshold that blocks 5% of the
  pool's real dialogue turns.
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


def load(work):
    """The texts and features `make model` cached in `work` (2^T.BITS buckets): the records,
    X (CSR), each row's text index and part, and the train and test row masks."""
    records = [json.loads(line) for line in (work / "texts.jsonl").open(encoding="utf-8")]
    n_features = (1 << T.BITS) + T.N_STRUCTURAL
    X, _ = load_svmlight_file(str(work / "features.svm"), n_features=n_features, zero_based=True)
    rows = np.loadtxt(work / "rows.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
    idx, part = rows[:, 0], rows[:, 1]
    tr = np.array([records[i]["split"] == "train" for i in idx])
    return records, X.tocsr(), idx, part, tr, ~tr


BANDS = ((0, 80), (80, 300), (300, 1000), (1000, 1 << 30))


def evaluate(name, records, idx, part, raw):
    """`idx`, `part`, `raw`: the test split's rows (text index, part, raw score)."""
    sc = T.message_scores(idx, part, raw)
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
    for lo, hi in BANDS:
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
    xr = defaultdict(lambda: [0, 0])
    for i in pool:
        if records[i]["source"] == "xrisawoz":
            xr[records[i]["lang"]][0] += 1
            xr[records[i]["lang"]][1] += sc[i] > t
    out["xrisawoz_false_blocks_by_lang@own_t"] = {k: round(b / a, 3) for k, (a, b) in sorted(xr.items())}
    print(name, json.dumps(out, ensure_ascii=False), flush=True)


def fitted(name, saved, X, y, w):
    """train.py's `fit` of X, or the weights a previous run kept in `saved`, where a new fit
    is kept too."""
    if saved.exists():
        *coef, bias = np.load(saved)
        return np.array(coef), bias
    t0 = time.time()
    coef, bias = T.fit(X, y, w)
    print(f"{name}: fit {time.time() - t0:.0f} s", flush=True)
    np.save(saved, np.append(coef, bias))
    return coef, bias
