"""Character n-gram feature hashing for the lexical stage, vectorised in numpy.

It gives the same sparse counts as scikit-learn's
`HashingVectorizer(analyzer="char_wb", lowercase=True, alternate_sign=False, norm=None)`, which the
shipped weights were trained with: every n-gram of every word padded with one space each side, bucket
`abs(MurmurHash3_x86_32(utf-8 bytes, seed 0)) % n_features`. scikit-learn builds each n-gram as a Python
string and hashes it in its own call, about 0.4 ms for a 300-character post; here the n-grams are
(start, length) ranges into one UTF-8 buffer per batch, and MurmurHash3 runs over all ranges of one byte
length at once. tests/unit/test_text_hashing.py compares both on posts with emoji, accents and odd whitespace.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["CharNgramCounts", "murmurhash3_32"]

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _fmix(h: np.ndarray) -> np.ndarray:
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _scramble(k: np.ndarray) -> np.ndarray:
    k *= _C1
    k = _rotl(k, 15)
    k *= _C2
    return k


def _hash_same_length(keys: np.ndarray) -> np.ndarray:
    """MurmurHash3_x86_32 with seed 0 of each row of `keys` (M, L) uint8: (M,) uint32."""
    m, length = keys.shape
    h = np.zeros(m, np.uint32)
    n_blocks = length // 4
    if n_blocks:
        blocks = np.ascontiguousarray(keys[:, : 4 * n_blocks]).view("<u4")  # (M, n_blocks) little-endian words
        for b in range(n_blocks):
            h ^= _scramble(blocks[:, b].astype(np.uint32))
            h = _rotl(h, 13) * np.uint32(5) + np.uint32(0xE6546B64)
    tail = length & 3
    if tail:
        k = np.zeros(m, np.uint32)
        for j in range(tail - 1, -1, -1):  # tail bytes fold in little-endian, last byte highest
            k ^= keys[:, 4 * n_blocks + j].astype(np.uint32) << np.uint32(8 * j)
        h ^= _scramble(k)
    h ^= np.uint32(length)
    return _fmix(h)


def murmurhash3_32(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Signed 32-bit MurmurHash3 (seed 0) of the byte ranges `buffer[starts[i]:starts[i] + lengths[i]]`.

    Args:
        buffer: (B,) uint8.
        starts, lengths: (M,) int, byte offsets and lengths (lengths >= 1).
    Returns:
        (M,) int32, equal to `sklearn.utils.murmurhash3_32(bytes(range), seed=0)` for each range.
    """
    out = np.empty(len(starts), np.uint32)
    order = np.argsort(lengths.astype(np.int16), kind="stable")  # a radix sort: lengths are small
    per_length = np.bincount(lengths)
    ends = np.cumsum(per_length)  # rows of each length are order[ends[length - 1]:ends[length]]
    for length in np.flatnonzero(per_length):
        rows = order[ends[length - 1] : ends[length]]
        keys = buffer[starts[rows, None] + np.arange(length)]  # (M_len, length) uint8
        out[rows] = _hash_same_length(keys)
    return out.view(np.int32)


class CharNgramCounts:
    """Counts of hashed character n-grams inside word boundaries (scikit-learn's `char_wb` analyzer).

    Args:
        ngram_range: (min_n, max_n) n-gram lengths in characters.
        n_features: hash buckets (columns of the output).
    """

    def __init__(self, ngram_range: tuple[int, int], n_features: int) -> None:
        if not 1 <= ngram_range[0] <= ngram_range[1]:
            raise ValueError(f"CharNgramCounts.ngram_range: expected 1 <= min <= max, got {ngram_range}")
        self.ngram_range = ngram_range
        self.n_features = n_features

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """(N, n_features) float64 CSR counts, sorted indices, one row per text."""
        words_per_text = [t.lower().split() for t in texts]  # the analyzer lower-cases, then splits on whitespace
        n_words = np.fromiter(map(len, words_per_text), np.int64, len(texts))
        words = [w for ws in words_per_text for w in ws]
        if not words:
            return sp.csr_matrix((len(texts), self.n_features), dtype=np.float64)
        joined = " " + "  ".join(words) + " "  # every word padded with one space each side, back to back
        # a lone surrogate raises UnicodeEncodeError here, as it does in scikit-learn's hashing
        codepoints = np.frombuffer(joined.encode("utf-32-le"), np.uint32)
        buffer = np.frombuffer(joined.encode("utf-8"), np.uint8)
        # byte offset of every code point in the UTF-8 buffer, (C + 1,)
        utf8_len = 1 + (codepoints >= 0x80) + (codepoints >= 0x800) + (codepoints >= 0x10000)
        byte_at = np.concatenate([[0], np.cumsum(utf8_len)])
        padded = np.fromiter(map(len, words), np.int64, len(words)) + 2  # (W,) code points per padded word
        word_start = np.concatenate([[0], np.cumsum(padded)[:-1]])  # (W,)
        word_doc = np.repeat(np.arange(len(texts)), n_words)  # (W,)
        starts, lengths, docs = [], [], []
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            # n-grams of length n of each padded word; a word no longer than n gives itself once and no
            # longer n-grams (scikit-learn stops there), and one shorter than lo gives itself at lo
            count = np.where(padded >= n, padded - n + 1, 1 if n == lo else 0)
            total = int(count.sum())
            if not total:
                continue
            first = np.repeat(word_start, count)
            offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
            starts.append(first + offset)
            lengths.append(np.repeat(np.minimum(padded, n), count))
            docs.append(np.repeat(word_doc, count))
        cp_start, cp_len, doc = (np.concatenate(a) for a in (starts, lengths, docs))
        byte_start = byte_at[cp_start]
        hashes = murmurhash3_32(buffer, byte_start, byte_at[cp_start + cp_len] - byte_start)
        buckets = np.abs(hashes.astype(np.int64)) % self.n_features  # abs(-2**31) as scikit-learn defines it
        # one sort of (text, bucket) keys gives CSR order and the counts of repeated n-grams at once
        keys, counts = np.unique(doc * self.n_features + buckets, return_counts=True)
        indptr = np.searchsorted(keys, np.arange(len(texts) + 1) * self.n_features)
        return sp.csr_matrix((counts.astype(np.float64), (keys % self.n_features).astype(np.int32), indptr.astype(np.int32)),
                             shape=(len(texts), self.n_features))
