"""Bloom filter hashing against an independent, byte-at-a-time model of Hadoop's MurmurHash
(org.apache.hadoop.util.hash.MurmurHash, which Hudi's filters use) for keys of every length mod
4 and non-ASCII keys: the vectorised hash must agree on the tail bytes too (sign-extended, as
Java's byte is)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.hudi.bloom import (
    NB_HASH,
    VECTOR_SIZE,
    BloomSizing,
    b64decode,
    dynamic_bloom_filter,
    hash_positions,
    might_contain,
)

MASK = 0xFFFFFFFF


def _signed(x: int) -> int:
    x &= MASK
    return x - (1 << 32) if x & 0x80000000 else x


def hadoop_murmur(data: bytes, seed: int) -> int:
    """MurmurHash.hash(byte[], 0, length, seed), with Java int arithmetic."""
    m, r = 0x5BD1E995, 24
    signed = [b - 256 if b > 127 else b for b in data]  # Java bytes
    h = (seed ^ len(data)) & MASK
    quads = len(data) >> 2
    for i in range(quads):
        j = i * 4
        k = signed[j + 3]
        k = (k << 8) | (signed[j + 2] & 0xFF)
        k = (k << 8) | (signed[j + 1] & 0xFF)
        k = (k << 8) | (signed[j] & 0xFF)
        k = (k * m) & MASK
        k ^= k >> r
        k = (k * m) & MASK
        h = (h * m) & MASK
        h ^= k
    left = len(data) - quads * 4
    if left:
        # Hadoop's tail counts back from the end (unlike C MurmurHash2): the last byte is the
        # unshifted one
        n = len(data)
        if left >= 3:
            h ^= (signed[n - 3] << 16) & MASK
        if left >= 2:
            h ^= (signed[n - 2] << 8) & MASK
        h ^= signed[n - 1] & MASK
        h = (h * m) & MASK
    h ^= h >> 13
    h = (h * m) & MASK
    h ^= h >> 15
    return _signed(h)


def reference_positions(key: str) -> list[int]:
    """Hadoop HashFunction.hash: each hash seeds the next; Math.abs(h % vectorSize)."""
    out, seed = [], 0
    data = key.encode("utf-8")
    for _ in range(NB_HASH):
        seed = hadoop_murmur(data, seed)
        rem = abs(seed) % VECTOR_SIZE if seed != -(2**31) else (2**31) % VECTOR_SIZE
        out.append(rem)
    return out


FIXED = ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh", "é", "ñu", "日本",
         "日本語", "Zürich-42",
         "ÿÿÿ", "\u00ff", "key-\U0001f600", "12345678901234567890123"]  # fmt: skip


def test_fixed_keys_of_every_length_mod_4():
    assert {len(k.encode()) % 4 for k in FIXED} == {0, 1, 2, 3}
    got = hash_positions(pa.array(FIXED)).tolist()
    assert got == [reference_positions(k) for k in FIXED]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30))
def test_any_keys_match_the_reference(keys):
    got = hash_positions(pa.array(keys)).tolist()
    assert got == [reference_positions(k) for k in keys]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=20, unique=True))
def test_filter_admits_its_keys(keys):
    text = dynamic_bloom_filter(pa.array(keys))
    assert all(might_contain(text, k) for k in keys)


SIZED = BloomSizing(num_entries=40, fpp=1e-3, max_entries=100)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=150, unique=True))
def test_a_configured_filter_admits_its_keys(keys):
    """Three rows then round-robin: every key is in some row, hashed with the header's sizes."""
    text = dynamic_bloom_filter(pa.array(keys), SIZED)
    assert all(might_contain(text, k) for k in keys)


def test_configured_sizing_follows_hudis_formulas():
    """bits = ceil(n * -ln(p) / ln(2)^2), hashes = ceil(ln(2) * bits / n), as Hudi's
    BloomFilterUtils computes them; a filter of 3 keys is that size whatever the key count."""
    assert (SIZED.vector_size, SIZED.nb_hash) == (576, 10)
    assert (NB_HASH, VECTOR_SIZE) == (30, 2_587_966)
    for keys in (["a"], ["a", "bb", "ccc"]):
        raw = b64decode(dynamic_bloom_filter(pa.array(keys), SIZED))
        assert len(raw) == 25 + 13 + 576 // 8  # header, one row header, the bits


@pytest.mark.parametrize(
    ("num_entries", "fpp", "max_entries", "message"),
    [(0, 1e-9, 100, "num_entries=0"), (10, 1.0, 100, "fpp=1.0"), (10, 0.0, 100, "fpp=0.0"),
     (10, 1e-9, -1, "max.entries=-1"), (2**30, 1e-9, 100, "more than Java's")],
)  # fmt: skip
def test_bad_sizing_is_refused_naming_the_setting(num_entries, fpp, max_entries, message):
    with pytest.raises(ValueError, match=message):
        BloomSizing(num_entries, fpp, max_entries)
