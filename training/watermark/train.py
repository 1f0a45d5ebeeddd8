"""Train the platform-watermark CNN on CPU and write models/watermark/artifact/.

    python -m training.watermark.train --data_dir=../shared/data/tiktok-frames
    python -m training.watermark.evaluate   # held-out metrics, PR curves, card.md

Config is the block of defaults below; `--key=value` overrides keep the default's type.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models.watermark.config import WatermarkConfig
from models.watermark.detector import ARTIFACT_DIR, save
from models.watermark.net import WatermarkNet

from training.configurator import git_commit, start_run

from . import backgrounds as BG
from . import data as D
from . import render as R
from . import synth as S

# -----------------------------------------------------------------------------
data_dir = "../shared/data/tiktok-frames"  # real TikTok frames (training/validation only, never shipped)
cache_dir = "/tmp/bonuscheck_watermark"  # rendered data cache (npz); safe to delete
out_dir = str(ARTIFACT_DIR)  # where weights + config.json go
seed = 1337
n_clips = 1500  # rendered training clips (4 frames each)
n_test_clips = 400  # rendered held-out clips (held-out photos and fonts)
n_test_videos = 6  # real TikTok source videos held out
max_steps = 4500  # optimiser steps (each: batch_size frames, synth_frac of them drawn on the fly); at 3000 the held-out loss still fell
eval_interval = 500  # steps between held-out loss evaluations (the training curve)
batch_size = 32
synth_frac = 0.5  # fraction of every batch rendered on the fly (synth.py): new backgrounds every step
synth_min_opacity = 0.3  # on-the-fly marks: lowest opacity
synth_yt_min_width = 0.04  # on-the-fly YouTube marks: smallest width (fraction of the frame width)
synth_mono_min_width = 0.10  # on-the-fly YouTube marks without red (white logo + handle, flat-coloured): smallest width
synth_yt_random_frac = 0.5  # share of on-the-fly YouTube marks drawn with random logo shape / layout / glyphs (render.py)
synth_red_negatives = 80  # red UI shapes that are not YouTube (play circles, hearts, badges) added to the look-alike pool
# share of on-the-fly backgrounds with a random hue rotation (red natural objects as negatives). Off: trained at 0.3 from
# a clean b671ec4 (2026-11-27), the production path (evaluate_media, seed 2024) lost YouTube recall at 1 % FPR
# 0.633 -> 0.550 and read more (428 vs 383 OCR passes) for real + rendered TikTok 0.922 -> 0.941
synth_hue_p = 0.0
# more imagery for the on-the-fly frames (backgrounds.py; fetch with `python -m training.watermark.backgrounds`):
# Debian wallpapers added to the training photographs, Tux Paint object cut-outs pasted into synth_stamp_p of them.
# Off: trained with both (stamp_p 0.5) from a clean f816c6d (2026-11-27), the frame CNN boxed fewer marks. On the tuning
# set's production path (evaluate_media seed 7, 150 rendered images per kind, with the crop classifier that does use
# them): YouTube recall at 1 % FPR 0.687 -> 0.620, TikTok at 0.5 % FPR 0.860 -> 0.815, YouTube marks with no crop
# region on them 39 -> 48 of 150; fewer OCR passes (434 -> 422) and 9 instead of 10 on the 32 clean benchmark photographs
synth_backgrounds_dir = ""  # "" = the training photographs alone
synth_stamps_dir = ""  # "" = no object cut-outs
synth_stamp_p = 0.0
synth_tiktok_p = 0.22  # on-the-fly frames: share with a TikTok corner mark
synth_youtube_p = 0.33  # ... with a YouTube / Shorts mark
synth_endcard_p = 0.05  # ... with a TikTok end card (the rest carry no mark)
lr = 2e-3  # AdamW peak learning rate
weight_decay = 1e-4
warmup_steps = 100
cell_loss_weight = 1.0  # per-cell localisation loss next to the whole-frame loss
cell_pos_weight = 4.0  # marks cover few cells; up-weight them against "none" cells
paste_prob = 0.0  # a negative gets a mark cut from another frame (any background, any place)
patch_prob = 0.0  # a negative gets a plain patch of another negative (so paste seams are no cue)
mosaic_prob = 0.0  # a negative is spliced with another negative (more background variety)
stem_channels = 16  # see models/watermark/config.py (24 costs 2x the inference time on oneDNN)
threads = 1  # intra-op threads of the forward/backward pass; the batch-making worker (TrainingBatches) takes the second core
# (2 threads measured on 2026-11-27: set before the worker forks, the worker deadlocks (GNU OpenMP is not fork-safe);
# set after it forks, 0.53 s per step against 0.52 on 1 thread, since the worker needs the second core)
version = ""  # artifact version in every verdict; empty: watermark-<date>-<commit>, as the text model
# -----------------------------------------------------------------------------
def cell_targets(boxes: np.ndarray, labels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per-cell class targets (N, gh, gw): the mark's class where a box covers >= 25 % of a cell,
    ignore (-1) at the box's fringe and on boxless positives (end cards), "none" elsewhere."""
    gh, gw = grid
    out = np.zeros((len(labels), gh, gw), np.int64)
    ys, xs = np.arange(gh) / gh, np.arange(gw) / gw
    for i, (box, label) in enumerate(zip(boxes, labels)):
        if label == 0:
            continue
        if np.isnan(box[0]):
            out[i] = -1
            continue
        x0, y0, bw, bh = box
        ov_x = np.clip(np.minimum(xs + 1 / gw, x0 + bw) - np.maximum(xs, x0), 0, None) * gw
        ov_y = np.clip(np.minimum(ys + 1 / gh, y0 + bh) - np.maximum(ys, y0), 0, None) * gh
        cover = ov_y[:, None] * ov_x[None, :]  # (gh, gw) fraction of each cell under the box
        out[i][cover > 0] = -1
        out[i][cover >= 0.25] = label
        cy, cx = min(gh - 1, int((y0 + bh / 2) * gh)), min(gw - 1, int((x0 + bw / 2) * gw))
        out[i, cy, cx] = label  # a tiny mark still owns the cell holding its centre
    return out


def paste(dst: np.ndarray, src: np.ndarray, box, rng: np.random.Generator, scale: float):
    """Cut `box` (relative xywh) out of `src`, rescale it, paste it at a random place in `dst`; returns the new box."""
    h, w = dst.shape[:2]
    x0, y0 = int(box[0] * w), int(box[1] * h)
    x1, y1 = max(x0 + 2, int(np.ceil((box[0] + box[2]) * w))), max(y0 + 2, int(np.ceil((box[1] + box[3]) * h)))
    patch = src[y0:y1, x0:x1]
    pw, ph = max(2, min(w - 1, int(patch.shape[1] * scale))), max(2, min(h - 1, int(patch.shape[0] * scale)))
    patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA)
    px, py = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
    dst[py: py + ph, px: px + pw] = patch
    return (px / w, py / h, pw / w, ph / h)


def mix_batch(idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copy-paste augmentation: marks move onto backgrounds they never appeared on, so the net
    cannot learn the training photographs instead of the marks."""
    x, y, b = train["x"][idx].copy(), train["y"][idx].copy(), train["b"][idx].copy()
    for j in range(len(idx)):
        if y[j] != 0:
            continue
        r = rng.random()
        if r < paste_prob:
            k = boxed_positives[rng.integers(len(boxed_positives))]
            b[j] = paste(x[j], train["x"][k], train["b"][k], rng, rng.uniform(0.7, 1.4))
            y[j] = train["y"][k]
        elif r < paste_prob + patch_prob:
            k = negatives[rng.integers(len(negatives))]
            pw, ph = rng.uniform(0.05, 0.3, 2)
            paste(x[j], train["x"][k], (rng.uniform(0, 1 - pw), rng.uniform(0, 1 - ph), pw, ph), rng, rng.uniform(0.7, 1.4))
        elif r < paste_prob + patch_prob + mosaic_prob:
            k = negatives[rng.integers(len(negatives))]
            cut = int(rng.integers(64, 192))
            if rng.random() < 0.5:
                x[j, cut:] = train["x"][k][cut:]
            else:
                x[j, :, cut:] = train["x"][k][:, cut:]
    return x, y, b


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Photometric jitter only: flips would mirror text, crops would move boxes. x: (B, 3, H, W) in [0, 1]."""
    b = x.shape[0]
    gain = 1 + 0.25 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 2
    bias = 0.08 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 2
    noise = torch.randn(x.shape, generator=gen) * (0.02 * torch.rand(b, 1, 1, 1, generator=gen))
    return (x * gain + bias + noise).clamp_(0, 1)


class TrainingBatches(torch.utils.data.IterableDataset):
    """The `max_steps` training batches, in order: x (B, 3, H, W) float in [0, 1], channels-last, jittered;
    y (B,) frame classes; cells (B, gh, gw) per-cell targets; and the cache epoch.

    Each batch holds batch_size - n_syn frames of the cache (real frames + H.264 clips, `mix_batch`)
    and n_syn frames rendered now (`synth`). The batches own every random stream they draw from
    (the cache order, mix_batch, the synth pools, the jitter), so they are the same wherever they are
    made: `main` makes them in a DataLoader worker process on the second core while the first runs
    the forward and backward pass (per step here: about 0.15 s of batch making, 0.5 s of compute).
    """

    def __init__(self, synth: S.Synth, synth_rng: np.random.Generator, grid: tuple[int, int]) -> None:
        self.synth, self.synth_rng, self.grid = synth, synth_rng, grid
        self.n_syn = int(round(batch_size * synth_frac))  # frames per batch rendered on the fly

    def __iter__(self):
        cv2.setNumThreads(1)  # DataLoader already gives the worker one torch thread
        gen, mix_rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed + 1)
        n_syn, n_cache = self.n_syn, batch_size - self.n_syn
        perm, pos, epoch = torch.randperm(len(train["y"]), generator=gen), 0, 0
        for _ in range(max_steps):
            if pos + n_cache > len(perm):
                perm, pos, epoch = torch.randperm(len(train["y"]), generator=gen), 0, epoch + 1
            xb, yb, bb = mix_batch(perm[pos: pos + n_cache].numpy(), mix_rng)
            pos += n_cache
            if n_syn:
                sx, sy, sb = self.synth.batch(self.synth_rng, n_syn)
                xb, yb, bb = np.concatenate([xb, sx]), np.concatenate([yb, sy]), np.concatenate([bb, sb])
            x = augment(torch.from_numpy(xb).permute(0, 3, 1, 2).float() / 255, gen)  # (B, 3, H, W)
            yield x.contiguous(memory_format=torch.channels_last), torch.from_numpy(yb), torch.from_numpy(cell_targets(bb, yb, self.grid)), epoch


def load_or_build(log) -> tuple[dict, dict, bool]:
    """(train, test, whether they came from the cache) for this config's seed and sizes."""
    key = f"seed{seed}_clips{n_clips}_{n_test_clips}_videos{n_test_videos}"
    path = Path(cache_dir) / f"data_{key}.npz"
    if path.is_file():
        log(f"data: cached {path} (delete it to render the clips again)")
        z = np.load(path, allow_pickle=False)
        meta = json.loads(path.with_suffix(".json").read_text())
        return ({"x": z["train_x"], "y": z["train_y"], "b": z["train_b"], "meta": meta["train"]},
                {"x": z["test_x"], "y": z["test_y"], "b": z["test_b"], "meta": meta["test"], "videos": meta["test_videos"]}, True)
    train, test, test_videos = D.build(Path(data_dir), WatermarkConfig().input_size, n_clips, n_test_clips, n_test_videos, seed, log)
    (tx, ty, tb), (vx, vy, vb) = train.arrays(), test.arrays()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, train_x=tx, train_y=ty, train_b=tb, test_x=vx, test_y=vy, test_b=vb)
    path.with_suffix(".json").write_text(json.dumps({"train": train.meta, "test": test.meta, "test_videos": test_videos}))
    return ({"x": tx, "y": ty, "b": tb, "meta": train.meta}, {"x": vx, "y": vy, "b": vb, "meta": test.meta, "videos": test_videos}, False)


def main() -> None:
    run_config, t_start, log = start_run(globals(), sys.argv[1:])
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)

    # data: real frames split by source video + rendered clips split by photo and font
    global train, boxed_positives, negatives
    train, test, data_cached = load_or_build(log)
    data_seconds = time.perf_counter() - t_start  # rendering the H.264 clips or reading the cache
    boxed_positives = np.nonzero((train["y"] > 0) & ~np.isnan(train["b"][:, 0]))[0]
    negatives = np.nonzero(train["y"] == 0)[0]
    name = version or f"watermark-{time.strftime('%Y%m%d')}-{git_commit()}"
    config = replace(WatermarkConfig(), version=name, stem_channels=stem_channels)
    grid = (config.input_size[0] // config.stride, config.input_size[1] // config.stride)
    test_cells = torch.from_numpy(cell_targets(test["b"], test["y"], grid))
    log(f"train {len(train['y'])} frames {np.bincount(train['y']).tolist()}, test {len(test['y'])} {np.bincount(test['y']).tolist()}")

    # on-the-fly frames: training photographs, real footage away from the marks (training videos only)
    synth_rng = np.random.default_rng(seed + 2)
    videos = D.read_real(Path(data_dir))
    train_ids = [v for v in videos if v not in set(test["videos"])]
    wallpapers, stamps = BG.extra_imagery(synth_backgrounds_dir, synth_stamps_dir, synth_stamp_p)
    photos = D.load_photos([p for p in D.PHOTO_FILES if p not in D.TEST_PHOTOS]) + wallpapers
    synth = S.Synth(photos, S.footage_crops(videos, train_ids, synth_rng), R.TRAIN_FONTS, config.input_size, seed + 3,
                    min_opacity=synth_min_opacity, yt_min_width=synth_yt_min_width, mono_min_width=synth_mono_min_width,
                    yt_random_frac=synth_yt_random_frac, n_red_negatives=synth_red_negatives, hue_p=synth_hue_p,
                    stamps=stamps, stamp_p=synth_stamp_p,
                    class_p=(1 - synth_tiktok_p - synth_youtube_p - synth_endcard_p, synth_tiktok_p, synth_youtube_p, synth_endcard_p))
    batches = TrainingBatches(synth, synth_rng, grid)
    log(f"synth pools ready: {len(synth.footage)} footage crops, {batches.n_syn} of {batch_size} frames per batch on the fly")

    # model and optimiser
    net = WatermarkNet(config).to(memory_format=torch.channels_last)  # channels-last: faster depthwise convs on CPU
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    cell_w = torch.tensor([1.0] + [cell_pos_weight] * (len(config.classes) - 1))
    history = []

    def evaluate_test() -> dict:
        net.eval()
        losses, correct = [], 0
        with torch.inference_mode():
            for i in range(0, len(test["y"]), 64):
                x = torch.from_numpy(test["x"][i: i + 64]).permute(0, 3, 1, 2).float() / 255
                y = torch.from_numpy(test["y"][i: i + 64])
                f_logits, _ = net(x.contiguous(memory_format=torch.channels_last))
                losses.append(F.cross_entropy(f_logits, y, reduction="sum").item())
                correct += int((f_logits.argmax(1) == y).sum())
        net.train()
        return {"test_loss": sum(losses) / len(test["y"]), "test_acc": correct / len(test["y"])}

    # batches come from one worker process, so rendering overlaps the forward/backward pass;
    # its own generator for the worker seed leaves the global RNG (weight init) untouched
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=1,
                                         prefetch_factor=4, generator=torch.Generator().manual_seed(seed))
    run_loss, n_seen = 0.0, 0
    for step, (x, y, cells, epoch) in enumerate(loader):
        # learning rate: linear warm-up then cosine decay to 5 % of peak
        cur_lr = lr * min(1.0, (step + 1) / warmup_steps) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max_steps)))
        for g in opt.param_groups:
            g["lr"] = cur_lr
        # forward: whole-frame loss plus per-cell loss (ignore = -1)
        f_logits, c_logits = net(x)  # channels-last from the worker: the layout survives the DataLoader's shared memory
        loss = F.cross_entropy(f_logits, y, label_smoothing=0.02)
        loss = loss + cell_loss_weight * F.cross_entropy(c_logits, cells, weight=cell_w, ignore_index=-1)
        # backward and step
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss += loss.item() * len(y)
        n_seen += len(y)
        if (step + 1) % 50 == 0:
            log(f"step {step + 1}/{max_steps} (cache epoch {epoch}) loss {run_loss / n_seen:.4f} lr {cur_lr:.2e}")
        if (step + 1) % eval_interval == 0 or step + 1 == max_steps:
            record = {"epoch": epoch, "step": step + 1, "train_loss": run_loss / n_seen, **evaluate_test(),
                      "elapsed_s": round(time.perf_counter() - t_start, 1)}
            history.append(record)
            log(json.dumps(record))
            run_loss, n_seen = 0.0, 0

    # artifact: weights + config; the curve goes to evaluate.py via the cache dir
    save(net.eval().to(memory_format=torch.contiguous_format), Path(out_dir))
    Path(cache_dir, "history.json").write_text(json.dumps({"version": name, "history": history, "train_seconds": time.perf_counter() - t_start,
                                                            "data_seconds": data_seconds, "data_cached": data_cached,
                                                            "config": run_config}))
    log(f"saved {out_dir}; run `python -m training.watermark.evaluate` for held-out metrics")


if __name__ == "__main__":
    main()
