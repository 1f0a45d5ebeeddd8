"""Synthetic multilingual creator posts for the text model, with a held-out split.

No labelled corpus exists, so posts are composed from the phrase bank in
phrases.yaml: one *core* phrase that carries (or pointedly does not carry) the
signal, wrapped in everyday filler sentences, topic hashtags and emoji, then
roughened with typos, case changes and mixed languages. Lengths run from a few
words to 500 characters.

Held-out split (documented here and in the model card):
  * phrase families: family i of each (language, category) with i % 4 == 3 is
    used only for validation; train never sees those phrasings.
  * slot values: validation fills slots from the `*_val` lists (brands, handles,
    codes, links, shows, artists, teams, creators), which train never sees.
So the validation score measures generalisation to new wordings and new names.
Not held out: the closed list of disclosure markers (`markers`: "#ad", "Werbung",
"Publicité", "#publi", ...), which law and platform rules fix; 30% of disclosed
posts are a bare marker on an organic-looking post (family "<lang>/disclosed/marker").

Labels per category (branded, copyright):
  disclosed, pitch, affiliate, thanks, giveaway        -> (1, 0)
  credit, disclaimer, reuse                            -> (0, 1)
  organic_brand, not_sponsored, ad_word, discount_story,
  own_link, own_copyright, copyright_talk, plain       -> (0, 0)   hard negatives + plain
A small share of posts combine a branded and a copyright core -> (1, 1).
`undisclosed` marks branded posts whose core carries no disclosure tag
(pitch, affiliate, thanks, giveaway): the proxy for ads with the tag removed.

Usage: python -m training.text.generate --n=20 --split=val   (prints JSON lines)
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["LANGS", "CATEGORIES", "generate", "load_bank", "shared_phrasings", "written_posts"]

LANGS = ("en", "fr", "es", "pt", "de")
BRANDED = ("disclosed", "pitch", "affiliate", "thanks", "giveaway")
COPYRIGHT = ("credit", "disclaimer", "reuse")
NEGATIVE = ("organic_brand", "not_sponsored", "ad_word", "discount_story", "own_link", "own_copyright", "copyright_talk")
CATEGORIES = BRANDED + COPYRIGHT + NEGATIVE + ("plain",)
# Sampling weights: ~35% branded, ~25% copyright, ~30% hard negatives, ~10% plain.
_WEIGHTS = {"disclosed": 10, "pitch": 10, "affiliate": 5, "thanks": 5, "giveaway": 5,
            "credit": 9, "disclaimer": 8, "reuse": 8, "plain": 10}
_WEIGHTS.update({c: 30 / len(NEGATIVE) for c in NEGATIVE})
EMOJI = ["✨", "🔥", "💕", "😍", "🙌", "😂", "🥹", "☀️", "🌿", "💪", "📸", "🎉", "❤️", "👀", "🙏", "🍝", "🏃‍♀️", "🇧🇷", "🇫🇷", "🇩🇪"]
JOINERS = [". ", " ", "\n", " | ", " — ", "!! ", "\n\n", " · "]
# Ordinary posts around the cores (v11). Real captions are long and personal; with only the 20 short `filler` sentences
# per language, v10 flagged long ordinary captions as brand partnerships (about a third of the organic captions of
# `captions_en.jsonl`'s dev split at 0.5). Every category gets them, so they carry no label of their own.
EVERYDAY_P = 0.7  # share of filler sentences drawn from the bank's `everyday` list instead of `filler`
STORY_P = {"plain": 0.35, "other": 0.15}  # share of posts (plain / any other category, not short) with one long story
STORY_MAX_CHARS = 1100  # a post with a story may run to about this length (real captions reach 2,200 characters)
SLOT = re.compile(r"\{(\w+)\}")
# Captions written whole by people, not composed from the bank (v12): eight writers (four English, one each for fr, de,
# es, pt) who saw neither the bank nor the evaluation sets, each 60 sponsored (disclosures marked) and 60 organic, in the
# style of real creators' posts. Composed posts cannot teach what an unmarked sponsored caption reads like next to an
# organic one that names brands too; these can. English test writers (`captions_en.jsonl`) are other people.
WRITTEN_CAPTIONS = Path(__file__).with_name("captions_train.jsonl")
# captions written whole that reuse others' material or show the creator's own (copyright check), training writers only
WRITTEN_REUSE = Path(__file__).with_name("captions_reuse_train.jsonl")
# more of them, writers 33-37: `train --reuse_more` (on since v15) reads them after WRITTEN_REUSE
WRITTEN_REUSE_MORE = Path(__file__).with_name("captions_reuse_more.jsonl")


def load_bank(path: str | Path | None = None, extra: str | Path | None = None) -> dict:
    """The phrase bank (default phrases.yaml); `extra`: files of more families, {lang: {category: [family, ...]}},
    comma-separated, appended to the bank's lists in that order, so the families already there keep their index (and
    their split)."""
    path = Path(path) if path is not None else Path(__file__).with_name("phrases.yaml")
    with open(path, encoding="utf-8") as f:
        bank = yaml.safe_load(f)
    for extra_path in str(extra or "").split(","):
        if not extra_path.strip():
            continue
        with open(extra_path.strip(), encoding="utf-8") as f:
            for lang, categories in yaml.safe_load(f).items():
                for category, families in categories.items():
                    bank["langs"][lang][category] = bank["langs"][lang][category] + list(families)
    return bank


def _families(bank: dict, lang: str, category: str, split: str) -> list[tuple[int, list[str]]]:
    fams = bank["langs"][lang][category]
    keep = [(i, f) for i, f in enumerate(fams) if (i % 4 == 3) == (split == "val")]
    return [(i, [p.strip() for p in f.split("||")]) for i, f in keep]


def shared_phrasings(bank: dict) -> list[tuple[str, str]]:
    """(language, phrasing) pairs that a training family and a held-out family both hold, compared
    case- and space-insensitively. Must be empty: such a phrasing leaks into the held-out score."""
    norm = lambda p: " ".join(p.lower().split())  # noqa: E731
    out = []
    for lang in LANGS:
        seen = {split: {norm(p) for c in CATEGORIES if c != "plain" for _, fam in _families(bank, lang, c, split) for p in fam}
                for split in ("train", "val")}
        out += [(lang, p) for p in sorted(seen["train"] & seen["val"])]
    return out


# Invented names (training only, `invented_names` > 0): pronounceable made-up words, so that a name never
# carries the label. Handles of brands and of other creators come from one generator on purpose: only the
# words around a name can tell a brand's "@lumora" from a fan page's "@kezavi.tv".
_CONSONANTS = "bcdfgklmnprstvxz"
_VOWELS = "aeiou"
_HANDLE_ENDS = ["", "", ".tv", "_", ".official", "hq", ".studio", "daily", ".world", "club", ".co", "_br", ".fr", "_de", ".es"]
_BRAND_ENDS = ["", "", "", " Beauty", " Labs", " Co", " Sport", " Paris", " Studio", " Home", " Foods", " App"]
_TEAM_FORMS = ["{} FC", "FC {}", "{} United", "Real {}", "Sporting {}", "{}", "AC {}", "{} City"]


def _word(rng: random.Random) -> str:
    syllables = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
    return syllables + (rng.choice(_CONSONANTS) if rng.random() < 0.4 else "")


def _invented(rng: random.Random, name: str) -> str | None:
    """A made-up value for slot `name`, or None for slots whose values stay from the bank (links, products...)."""
    w = _word(rng)
    if name in ("handle", "user"):
        return "@" + w + rng.choice(_HANDLE_ENDS) + (str(rng.randint(1, 99)) if rng.random() < 0.2 else "")
    if name == "brand":
        return w.capitalize() + rng.choice(_BRAND_ENDS)
    if name == "code":
        return w.upper()[:6] + str(rng.choice([5, 10, 15, 20, 25, 30, 40]))
    if name in ("show", "artist"):
        words = [w.capitalize()] + [_word(rng).capitalize() for _ in range(rng.randint(0, 2))]
        return ("The " if name == "show" and rng.random() < 0.3 else "") + " ".join(words)
    if name == "team":
        return rng.choice(_TEAM_FORMS).format(w.capitalize())
    return None


@dataclass(frozen=True)
class NameFill:
    """How a post's name slots are filled: from the `*_val` lists when `split` is "val", else from the training lists,
    with `invented` of the slots (0 for held-out posts) taking a made-up name (`_invented`) instead."""

    split: str
    invented: float = 0.0


def _fill(rng: random.Random, bank: dict, lang: str, phrase: str, names: NameFill) -> str:
    slots = bank["slots"]

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name in ("product", "store"):
            return rng.choice(bank[name][lang])
        if names.split == "val" and f"{name}_val" in slots:
            return rng.choice(slots[f"{name}_val"])
        # No draw at 0, so older posts stay bit-identical. Above 0 the draws happen for every slot, also those without
        # a made-up form (links, {me}, {year}...): wasted, but part of the stream v10 was trained on, so they stay.
        if names.invented and rng.random() < names.invented:
            made_up = _invented(rng, name)
            if made_up is not None:
                return made_up
        return rng.choice(slots[name])

    return SLOT.sub(value, phrase)


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not idx:
        return text
    i = rng.choice(idx)
    w, j = words[i], rng.randrange(1, len(words[i]) - 1)
    op = rng.random()
    if op < 0.4:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]  # swap two letters
    elif op < 0.7:
        w = w[:j] + w[j + 1:]  # drop one
    else:
        w = w[:j] + w[j] + w[j:]  # double one
    words[i] = w
    return " ".join(words)


def _split_items(items: list[str], split: str) -> list[str]:
    """Items of a list that `split` may use: index i % 4 == 3 only for validation, as phrase families are split."""
    return [x for i, x in enumerate(items) if (i % 4 == 3) == (split == "val")]


def _filler(rng: random.Random, bank: dict, lang: str, split: str) -> str:
    """One everyday sentence around the core: from the bank's `everyday` list (split like families) with EVERYDAY_P,
    else from the short shared `filler` list. A bank without `everyday` (older versions) uses `filler` alone."""
    everyday = bank["langs"][lang].get("everyday")
    if everyday and rng.random() < EVERYDAY_P:
        return rng.choice(_split_items(everyday, split))
    return rng.choice(bank["langs"][lang]["filler"])


def _story(rng: random.Random, bank: dict, lang: str, split: str, p: float) -> str | None:
    """With probability `p`, one long ordinary caption from the bank's `stories` (split like families), else None."""
    stories = bank["langs"][lang].get("stories")
    if not stories or rng.random() >= p:
        return None
    return rng.choice(_split_items(stories, split))


def _core(rng: random.Random, bank: dict, lang: str, category: str, split: str, names: NameFill) -> tuple[str, str]:
    fam_id, phrasings = rng.choice(_families(bank, lang, category, split))
    return _fill(rng, bank, lang, rng.choice(phrasings), names), f"{lang}/{category}/{fam_id}"


def generate_one(rng: random.Random, bank: dict, split: str, lang: str | None = None, names: NameFill | None = None) -> dict:
    names = names or NameFill(split)
    lang = lang or rng.choice(LANGS)
    cats = list(_WEIGHTS)
    category = rng.choices(cats, weights=[_WEIGHTS[c] for c in cats])[0]
    branded, copyright = int(category in BRANDED), int(category in COPYRIGHT)
    cores, family = [], f"{lang}/plain/-"
    if category == "disclosed" and rng.random() < 0.3:  # a bare disclosure marker on an organic-looking post
        marker = rng.choice(bank["langs"][lang]["markers"])
        body = _core(rng, bank, lang, "organic_brand", split, names)[0] if rng.random() < 0.5 else rng.choice(bank["langs"][lang]["filler"])
        cores.append(f"{body} {marker}" if marker.startswith("#") and rng.random() < 0.5 else f"{marker} {body}")
        family = f"{lang}/disclosed/marker"
    elif category != "plain":
        core, family = _core(rng, bank, lang, category, split, names)
        cores.append(core)
    if category in BRANDED + COPYRIGHT and rng.random() < 0.04:  # both signals in one post
        other = rng.choice(COPYRIGHT if branded else BRANDED)
        cores.append(_core(rng, bank, lang, other, split, names)[0])
        branded, copyright = 1, 1
    langbank = bank["langs"][lang]
    short = rng.random() < 0.15 and category != "plain"
    n_fill = 0 if short else rng.choice([0, 1, 1, 2, 2, 3, 4, 6, 9])
    if category == "plain":
        n_fill = max(1, n_fill)
    fillers = []
    for _ in range(n_fill):
        src = lang if rng.random() > 0.1 else rng.choice(LANGS)  # mixed languages
        filler = _filler(rng, bank, src, split)
        fillers.append(_typo(rng, filler) if rng.random() < 0.15 else filler)
    story = _story(rng, bank, lang, split, STORY_P["plain" if category == "plain" else "other"]) if not short else None
    if story:
        fillers.insert(rng.randint(0, len(fillers)), story)
    cores = [(_typo(rng, c) if rng.random() < 0.1 else c) for c in cores]
    parts = fillers[:]
    for c in cores:
        parts.insert(rng.randint(0, len(parts)), c)
    max_chars = STORY_MAX_CHARS if story else 470
    while len(parts) > 1 and sum(len(p) + 2 for p in parts) > max_chars:
        parts.remove(rng.choice([p for p in parts if p not in cores and p != story] or [p for p in parts if p not in cores] or parts[-1:]))
    text = ""
    for i, p in enumerate(parts):
        if i:
            text += rng.choice(JOINERS)
        text += p
        if rng.random() < 0.35:
            text += " " + "".join(rng.choices(EMOJI, k=rng.randint(1, 3)))
    if not short and rng.random() < 0.6:
        text += rng.choice(["\n", " ", "\n\n"]) + " ".join(rng.sample(langbank["tags"], rng.randint(1, 4)))
    r = rng.random()
    if r < 0.08:
        text = text.lower()
    elif r < 0.11:
        text = text.upper()
    text = text[:max_chars + 30].strip()
    return {"text": text, "lang": lang, "branded": branded, "copyright": copyright, "category": category,
            "family": family, "undisclosed": int(category in BRANDED[1:]), "split": split}


def generate(n: int, split: str = "train", seed: int = 0, bank: dict | None = None, invented_names: float = 0.0,
             name_split: str | None = None) -> list[dict]:
    """`n` posts of one split ("train" or "val"), balanced over LANGS, reproducible from `seed`.

    invented_names: share of name slots (handles, brands, codes, shows, artists, teams) of a training post filled with
    a made-up name instead of one from the bank's short lists, so that no name becomes a cue. Held-out posts always
    take the bank's `*_val` names.
    name_split: whose name lists fill the slots ("train" or "val"; None: the posts' own split). Held-out families with
    the training names show how much a model leans on names it has seen (a list's length changes the random draws,
    so the posts differ too; their families and categories are drawn the same way)."""
    if split not in ("train", "val") or name_split not in (None, "train", "val"):
        raise ValueError(f"split, name_split: expected 'train' or 'val', got {split!r}, {name_split!r}")
    if not 0.0 <= invented_names <= 1.0:
        raise ValueError(f"invented_names: expected a share in [0, 1], got {invented_names}")
    bank = bank or load_bank()
    rng = random.Random(f"{seed}-{split}")
    names = NameFill(name_split or split, invented_names if split == "train" else 0.0)
    return [generate_one(rng, bank, split, LANGS[i % len(LANGS)], names) for i in range(n)]


def written_posts(copies: int, seed: int = 0, path: str | Path = WRITTEN_CAPTIONS) -> list[dict]:
    """Training rows (generate()'s fields) from the written captions: each organic caption `copies` times, each sponsored
    one once as posted and `copies` times with its disclosures removed (an undisclosed ad). Copies after the first carry
    a typo, so that no caption is seen verbatim `copies` times. `family` is "<lang>/written/<writer>": out-of-fold
    folds split by writer. copies=0 gives no rows."""
    from training.text.evaluate import load_captions

    rng = random.Random(f"{seed}-written")
    rows = []
    for cap in load_captions(path) if copies else []:
        sponsored = cap["branded"]
        texts = [cap["text"]] + [cap["undisclosed_text"]] * copies if sponsored else [cap["text"]] * copies
        rows += _written_rows(rng, cap, texts, int(sponsored), sponsored, 0, "written")
    return rows


def written_reuse_posts(copies: int, seed: int = 0, paths: tuple[str | Path, ...] = (WRITTEN_REUSE,)) -> list[dict]:
    """Training rows from the written copyright captions in `paths` (`evaluate.load_reuse`, read in order as one list):
    each caption `copies` times, copyright 1 when it reuses others' material, 0 when the material is the creator's own; never
    branded. Copies after the first carry a typo; `family` is "<lang>/written_reuse/<writer>". copies=0 gives no rows."""
    from training.text.evaluate import load_reuse

    rng = random.Random(f"{seed}-written-reuse")
    rows = []
    for cap in [cap for path in paths for cap in load_reuse(path)] if copies else []:
        rows += _written_rows(rng, cap, [cap["text"]] * copies, 0, 0, cap["copyright"], "written_reuse")
    return rows


def _written_rows(rng: random.Random, cap: dict, texts: list[str], clean: int, branded: int, copyright: int,
                  family: str) -> list[dict]:
    """Rows of one written caption's `texts`: the first `clean` + 1 as they are, the others with a typo."""
    lang = cap.get("lang", "en")
    return [{"text": _typo(rng, text) if k > clean else text, "lang": lang, "branded": branded, "copyright": copyright,
             "category": family, "family": f"{lang}/{family}/{cap['writer']}",
             "undisclosed": int(bool(branded) and text != cap["text"]), "split": "train"} for k, text in enumerate(texts)]


if __name__ == "__main__":
    args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:])
    for row in generate(int(args.get("n", 20)), args.get("split", "train"), int(args.get("seed", 0))):
        print(json.dumps(row, ensure_ascii=False))
