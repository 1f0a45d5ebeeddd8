"""models/text/hashing.py gives exactly scikit-learn's hashed counts, which the shipped weights were trained on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32 as sk_murmurhash3_32

from models.text.hashing import CharNgramCounts, murmurhash3_32

POSTS = [
    "",
    "   ",
    "a",
    "ab cd",
    "Obsessed with my new serum from @glowlab #ad use code GLOW15 for 15% off",
    "Partenariat rémunéré avec @maisonlune : ma routine du soir 🌙",
    "Sunset run 🏃‍♀️ by the river 👨‍👩‍👧 🇫🇷",  # zero-width joiners and flag pairs: several code points per glyph
    "İstanbul ẞtraße ǅemal ΣΑΣ",  # lower-casing that changes length or depends on position
    "tabs\tand\nnew\r\nlines\u00a0nbsp\u3000ideographic\u2028sep\x1cfile sep  double",
    "全角のテキストと한국어와 العربية",
    "x" * 300 + " " + "é" * 7 + " y",
    "#werbung #publi #pub #sponsorisé 🎁 amzn.to/3xYz geni.us/abc",
]


def _sklearn(ngram_range, n_features, texts):
    vec = HashingVectorizer(analyzer="char_wb", ngram_range=ngram_range, n_features=n_features,
                            alternate_sign=False, norm=None, lowercase=True)
    return vec.transform(texts).tocsr()


@pytest.mark.parametrize("ngram_range", [(2, 5), (1, 3), (3, 3), (4, 6)])
@pytest.mark.parametrize("n_features", [2**18, 1000])
def test_char_counts_equal_sklearn(ngram_range, n_features):
    ours = CharNgramCounts(ngram_range, n_features).transform(POSTS)
    theirs = _sklearn(ngram_range, n_features, POSTS)
    assert ours.shape == theirs.shape == (len(POSTS), n_features)
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)


def test_char_counts_one_post_matches_its_row_in_a_batch():
    batch = CharNgramCounts((2, 5), 2**18).transform(POSTS)
    for i, post in enumerate(POSTS):
        alone = CharNgramCounts((2, 5), 2**18).transform([post])
        assert (alone != batch[i]).nnz == 0


def test_char_counts_of_no_words():
    counts = CharNgramCounts((2, 5), 64).transform(["", " \n\t"])
    assert counts.shape == (2, 64) and counts.nnz == 0
    assert CharNgramCounts((2, 5), 64).transform([]).shape == (0, 64)


def test_char_counts_refuse_a_bad_range():
    with pytest.raises(ValueError, match="ngram_range"):
        CharNgramCounts((3, 2), 64)


def test_murmurhash_equals_sklearn_for_every_tail_length():
    rng = np.random.default_rng(0)
    keys = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in range(1, 41) for _ in range(5)]
    buffer = np.frombuffer(b"".join(keys), np.uint8)
    lengths = np.array([len(k) for k in keys])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ours = murmurhash3_32(buffer, starts, lengths)
    assert ours.dtype == np.int32
    assert ours.tolist() == [sk_murmurhash3_32(k, seed=0) for k in keys]
