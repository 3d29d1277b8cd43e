#!/usr/bin/env python3
"""Sample-weighting experiments on the features the last `make model` cached (target/model).

`.venv-model/bin/python model/sweep.py [WORK_DIR] [CONFIG,CONFIG...]`: for each named config
(the `configs` table below: overrides of train.py's weighting constants), fits the held-out
model on the train split once (no calibration: recall at 1% false blocks needs only the
ranking) and prints the held-out figures: own texts' recall at 1% false blocks and its worst
languages, the pool test sources' recall at their own 1% threshold, and, at the own texts'
threshold, the false-block rate of Taskmaster and X-RiSAWOZ (service dialogue turns) and the
recall of Self-Instruct and MGSM; the 16 further languages (author zB) apart. One fit takes 3 to 5 minutes here. `../shared/eval` is
never read.
"""
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as T
from sklearn.datasets import load_svmlight_file

work = Path(sys.argv[1] if len(sys.argv) > 1 else T.REPO / "target" / "model")
t0 = time.time()
records = [json.loads(l) for l in (work / "texts.jsonl").open(encoding="utf-8")]
n_features = (1 << T.BITS) + T.N_STRUCTURAL
X, _ = load_svmlight_file(str(work / "features.svm"), n_features=n_features, zero_based=True)
X = X.tocsr()
rows = np.loadtxt(work / "rows.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
idx, part = rows[:, 0], rows[:, 1]
print(f"loaded {len(records)} texts, {X.shape} in {time.time()-t0:.0f}s", flush=True)
split = np.array([records[i]["split"] for i in idx])
tr = split == "train"; te = ~tr

def evaluate(name, coef, bias):
    raw = X[te] @ coef + bias
    sc = T.message_scores(idx[te], part[te], raw)
    own = [i for i in sc if records[i]["source"] == "own" and records[i]["author"] != "zB"]
    t, rec = T.recall_at_1pct(records, sc, own)
    out = {"own_recall@1%": round(rec, 4)}
    further = [i for i in sc if records[i]["author"] == "zB"]
    if further:
        _, zrec = T.recall_at_1pct(records, sc, further)
        out["further_langs_recall@1%"] = round(zrec, 4)
        ast = [i for i in further if records[i]["y"] == 1]
        out["further_langs_recall@own_t"] = round(sum(sc[i] > t for i in ast) / len(ast), 4)
    groups = defaultdict(lambda: [0, 0])
    for i, v in sc.items():
        r = records[i]
        if r["source"] == "own":
            key = "own:" + r["lang"]
        else:
            key = r["source"] + ":" + r["lang"]
        g = groups[(key, r["y"])]
        g[0] += 1; g[1] += v > t
    pool = [i for i in sc if records[i]["source"] != "own"]
    tp, recp = T.recall_at_1pct(records, sc, pool)
    out["pool_recall@1%"] = round(recp, 4)
    for src in ("taskmaster", "xrisawoz"):
        ks = [i for i in pool if records[i]["source"] == src]
        out[src + "_fb@own_t"] = round(sum(sc[i] > t for i in ks) / len(ks), 4)
    for src in ("selfinstruct_human", "mgsm_exemplars"):
        ks = [i for i in pool if records[i]["source"] == src]
        out[src + "_rec@own_t"] = round(sum(sc[i] > t for i in ks) / len(ks), 4)
    worst = sorted(((g[1] / g[0]), k[0]) for k, g in groups.items() if k[1] == 1 and k[0].startswith("own:"))[:4]
    out["own_worst_lang_recall"] = [(l, round(v, 3)) for v, l in worst]
    fbs = sorted((-(g[1] / g[0]), k[0]) for k, g in groups.items() if k[1] == 0 and g[0] > 100)[:6]
    out["top_fb_groups"] = [(l, round(-v, 3)) for v, l in fbs]
    print(name, json.dumps(out, ensure_ascii=False), flush=True)

configs = {
    "base": {},  # train.py as committed
    "cap4k": {"GROUP_CAP": 4000},
    "cap8k": {"GROUP_CAP": 8000},
    "cap20k": {"GROUP_CAP": 20000},
    "pool0.6": {"POOL_WEIGHT": 0.6},
    "cap20k_pool0.45": {"GROUP_CAP": 20000, "POOL_WEIGHT": 0.45},
    "lone0": {"LONE_LANGUAGE_WEIGHT": 0.0},
    "own2": {"SOURCE_WEIGHT": {"sib200": 0.4, "xquad": 0.4, "own": 2.0}},
    "own4": {"SOURCE_WEIGHT": {"sib200": 0.4, "xquad": 0.4, "own": 4.0}},
    "c5": {"C": 5.0},
    "c20": {"C": 20.0},
}
only = sys.argv[2].split(",") if len(sys.argv) > 2 else list(configs)
defaults = {k: getattr(T, k) for k in ("POOL_WEIGHT", "GROUP_CAP", "LONE_LANGUAGE_WEIGHT", "SOURCE_WEIGHT", "C")}
for name in only:
    for k, v in defaults.items(): setattr(T, k, v)
    for k, v in configs[name].items(): setattr(T, k, v)
    t0 = time.time()
    w, y = T.weights_for(records, idx, part)
    keep = tr & (w > 0)
    coef, bias = T.fit(X[keep], y[keep], w[keep])
    print(f"{name}: fit {time.time()-t0:.0f}s", flush=True)
    evaluate(name, coef, bias)
