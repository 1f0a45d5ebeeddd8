"""Desktop wallpapers from Debian packages: extra real-looking backgrounds for the crop classifier.

The 15 training photographs bundled with scikit-image are too few: on clean held-out photographs the
crop classifier called red flowers, saucers and colourful gradients marks, and each such call costs an
OCR pass (card.md). Three Debian packages ship about 70 wallpapers, a third of them photographs
(flowers, leaves, water, boats, a forest) and the rest colourful abstract art. They are used as
training backgrounds only; no evaluation set draws on them. Measured on the production path they did not
help, so they are off by default (`train_crops.backgrounds_dir`, where the numbers are).

    python -m training.watermark.backgrounds [--dest=DIR]   # fetch and unpack (no root needed)

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

__all__ = ["PACKAGES", "fetch", "image_files", "load_backgrounds"]

PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers", "ukui-wallpapers")
DEFAULT_DEST = Path("/tmp/bonuscheck_watermark/backgrounds")
# Transparent PNG layers that decode as blank white or black, and two larger copies of one picture
SKIP = ("Silk", "Spring", "Waves", "Arc-Colors-Transparent-Wallpaper", "MATE-Stripes-Light", "MATE-Stripes-Dark",
        "Elephants_3840x2160", "Elephants_5640x3172")
SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_SIDE = 1280  # pixels: training frames are 540x960, so larger sources only cost memory


def fetch(dest: Path = DEFAULT_DEST) -> list[str]:
    """Download PACKAGES with `apt-get download` and unpack them into `dest` with `dpkg -x`; a second
    call reuses them. Returns the .deb file names, which carry the package versions."""
    dest = Path(dest)
    stamp = dest / "packages.txt"
    if stamp.is_file():
        return stamp.read_text().split()
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get download {' '.join(PACKAGES)} failed ({done.stderr.strip()[-300:]}); "
                               "run `sudo apt-get update` once, then retry")
        debs = sorted(p.name for p in Path(tmp).glob("*.deb"))
        for name in debs:
            subprocess.run(["dpkg", "-x", str(Path(tmp) / name), str(dest)], check=True)
    stamp.write_text("\n".join(debs) + "\n")
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


if __name__ == "__main__":
    target = DEFAULT_DEST
    for arg in sys.argv[1:]:
        if not arg.startswith("--dest="):
            raise SystemExit(f"unknown argument {arg!r}; usage: python -m training.watermark.backgrounds [--dest=DIR]")
        target = Path(arg.split("=", 1)[1])
    debs = fetch(target)
    print(f"{len(image_files(target))} wallpapers from {', '.join(debs)} in {target}")
