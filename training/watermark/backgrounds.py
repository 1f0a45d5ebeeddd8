"""Debian packages as extra training imagery: desktop wallpapers (backgrounds) and Tux Paint stamps (objects).

The 15 training photographs bundled with scikit-image are too few: on clean held-out photographs the
crop classifier called red flowers, saucers and colourful gradients marks, and each such call costs an
OCR pass (card.md). Seven Debian packages ship 91 distinct wallpapers, a third of them photographs
(flowers, leaves, water, boats, a forest, cities) and the rest colourful abstract art (`PACKAGES`).
Tux Paint's default stamps (`STAMP_PACKAGES`, GPL) are about 800 cut-out pictures with transparency, most
of them photographs of everyday objects: fruit, animals, flowers, houses, road signs, flags, money, letters.
Pasted onto backgrounds (synth.py `stamps`) they put red, round and text-like things a mark is not in front
of the classifiers. Both are training imagery only; no evaluation set draws on them, nothing is shipped.
Whether they help is measured in train_crops.py (`backgrounds_dir`, `stamps_dir`, where the numbers are).

    python -m training.watermark.backgrounds [--dest=DIR] [--stamps_dest=DIR]   # fetch and unpack (no root needed)

`apt-get download` needs the machine's package lists (`sudo apt-get update` once on a fresh machine).
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PACKAGES", "STAMP_PACKAGES", "extra_imagery", "fetch", "image_files", "load_backgrounds", "load_stamps"]

# session 9 measured the first three alone (64 pictures); the other four were added on 2026-11-27
PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers", "ukui-wallpapers", "gnome-backgrounds",
            "sway-backgrounds", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04")
STAMP_PACKAGES = ("tuxpaint-stamps-default",)
DEFAULT_DEST = Path("/tmp/bonuscheck_watermark/backgrounds")
DEFAULT_STAMPS_DEST = Path("/tmp/bonuscheck_watermark/stamps")
STAMP_MAX_SIDE = 400  # pixels: stamps are pasted at 4-50 % of a 540-pixel-wide frame
# Transparent PNG layers that decode as blank white or black, and two larger copies of one picture
SKIP = ("Silk", "Spring", "Waves", "Arc-Colors-Transparent-Wallpaper", "MATE-Stripes-Light", "MATE-Stripes-Dark",
        "Elephants_3840x2160", "Elephants_5640x3172")
SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_SIDE = 1280  # pixels: training frames are 540x960, so larger sources only cost memory


def fetch(dest: Path = DEFAULT_DEST, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Download `packages` with `apt-get download` and unpack them into `dest` with `dpkg -x`; a second
    call reuses them. Returns the .deb file names, which carry the package versions."""
    dest = Path(dest)
    marker = dest / "packages.txt"
    if marker.is_file():
        debs = marker.read_text().split()
        if all(any(d.startswith(p + "_") for d in debs) for p in packages):
            return debs
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["apt-get", "download", *packages], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get download {' '.join(packages)} failed ({done.stderr.strip()[-300:]}); "
                               "run `sudo apt-get update` once, then retry")
        debs = sorted(p.name for p in Path(tmp).glob("*.deb"))
        for name in debs:
            subprocess.run(["dpkg", "-x", str(Path(tmp) / name), str(dest)], check=True)
    marker.write_text("\n".join(debs) + "\n")
    return debs


def image_files(dest: Path = DEFAULT_DEST) -> list[Path]:
    """The unpacked wallpapers, sorted: one file per KDE wallpaper (its largest size; they ship one
    picture at many resolutions), every other picture once, without screenshots and SKIP."""
    dest = Path(dest)
    pictures = [p for p in dest.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
                and "screenshot" not in p.name and p.stem not in SKIP]
    by_name: dict[str, Path] = {}
    for p in pictures:
        parts = p.relative_to(dest).parts
        key = parts[3] if parts[:3] == ("usr", "share", "wallpapers") and len(parts) > 3 else str(p)
        if key not in by_name or p.stat().st_size > by_name[key].stat().st_size:
            by_name[key] = p
    return sorted(by_name.values())


@functools.lru_cache(maxsize=1)  # a rendering process runs several tasks: decode the wallpapers once
def load_backgrounds(dest: Path | str = DEFAULT_DEST) -> list[np.ndarray]:
    """RGB uint8 images (long side at most MAX_SIDE) of `image_files(dest)`; shared between calls, do not modify.

    Raises FileNotFoundError when `dest` holds none (fetch them first: this module's command)."""
    files = image_files(Path(dest)) if Path(dest).is_dir() else []
    if not files:
        raise FileNotFoundError(f"no wallpapers in {dest}; run `python -m training.watermark.backgrounds --dest={dest}`")
    out = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            continue
        s = MAX_SIDE / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return out


@functools.lru_cache(maxsize=1)
def load_stamps(dest: Path | str = DEFAULT_STAMPS_DEST) -> list[np.ndarray]:
    """RGBA uint8 cut-outs (long side at most STAMP_MAX_SIDE) of every Tux Paint stamp PNG under `dest`, sorted by
    path; the transparent border is trimmed. Shared between calls, do not modify.

    Raises FileNotFoundError when `dest` holds none (fetch them first: this module's command)."""
    files = sorted(Path(dest).rglob("*.png")) if Path(dest).is_dir() else []
    out = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            continue  # the few stamps without an alpha channel are rectangles, not objects
        ys, xs = np.nonzero(img[..., 3] > 8)
        if len(xs) < 64:
            continue
        img = img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
        s = STAMP_MAX_SIDE / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA))
    if not out:
        raise FileNotFoundError(f"no stamps in {dest}; run `python -m training.watermark.backgrounds --stamps_dest={dest}`")
    return out


def extra_imagery(backgrounds_dir: str, stamps_dir: str, stamp_p: float) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """What a training run adds to its rendered frames: (wallpapers to join the training photographs, object cut-outs for
    synth.Synth's `stamps`); an empty folder option, or stamp_p 0, leaves that part out."""
    return (load_backgrounds(backgrounds_dir) if backgrounds_dir else [],
            load_stamps(stamps_dir) if stamps_dir and stamp_p else None)


if __name__ == "__main__":
    usage = "usage: python -m training.watermark.backgrounds [--dest=DIR] [--stamps_dest=DIR]"
    dests = {"dest": DEFAULT_DEST, "stamps_dest": DEFAULT_STAMPS_DEST}
    for arg in sys.argv[1:]:
        key, _, value = arg.removeprefix("--").partition("=")
        if key not in dests or not value:
            raise SystemExit(f"unknown argument {arg!r}; {usage}")
        dests[key] = Path(value)
    debs = fetch(dests["dest"])
    print(f"{len(image_files(dests['dest']))} wallpapers from {', '.join(debs)} in {dests['dest']}")
    debs = fetch(dests["stamps_dest"], STAMP_PACKAGES)
    print(f"{len(load_stamps(dests['stamps_dest']))} stamps from {', '.join(debs)} in {dests['stamps_dest']}")
