"""Hudi's record-key bloom filter (type DYNAMIC_V0), serialized as Hudi writes it in base files.

Spark's BLOOM / GLOBAL_BLOOM index reads it from the Parquet footer key
`org.apache.hudi.bloomfilter`. The encoding (Hadoop MurmurHash2, Hadoop bit packing, Hudi's
bounded dynamic filter with rows of `nr` keys) is described in hudi_format.md section 5; hashing
is vectorised over all keys of a file with numpy, grouped by key length.
"""

from __future__ import annotations

import binascii
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

MURMUR = 1  # Hadoop Hash.MURMUR_HASH
TYPE_CODE = "DYNAMIC_V0"
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class BloomSizing:
    """How big each file's filter is: Hudi's three sizing settings and what it derives from them
    (HoodieDynamicBoundedBloomFilter: bits per row and hash count, in Java double arithmetic
    with an (int) cast)."""

    num_entries: int = 60_000  # hoodie.index.bloom.num_entries: keys per filter row
    fpp: float = 1e-9  # hoodie.index.bloom.fpp
    max_entries: int = 100_000  # hoodie.bloom.index.filter.dynamic.max.entries
    vector_size: int = field(init=False)
    nb_hash: int = field(init=False)

    def __post_init__(self):
        if not 1 <= self.num_entries <= INT_MAX:
            raise ValueError(
                f"hoodie.index.bloom.num_entries={self.num_entries} must be 1..{INT_MAX}"
            )
        if not 0.0 < self.fpp < 1.0:
            raise ValueError(f"hoodie.index.bloom.fpp={self.fpp} must be between 0 and 1")
        if not 0 <= self.max_entries <= INT_MAX:
            raise ValueError(
                f"hoodie.bloom.index.filter.dynamic.max.entries={self.max_entries} must be "
                f"0..{INT_MAX}"
            )
        ln2 = math.log(2)
        bits = math.ceil(self.num_entries * (-math.log(self.fpp) / (ln2 * ln2)))
        if bits > INT_MAX:  # Java's (int) cast would saturate: refuse rather than differ
            raise ValueError(
                f"hoodie.index.bloom.num_entries={self.num_entries} at hoodie.index.bloom.fpp="
                f"{self.fpp} needs {bits} bits per filter row, more than Java's {INT_MAX}"
            )
        object.__setattr__(self, "vector_size", bits)
        object.__setattr__(self, "nb_hash", math.ceil(ln2 * bits / self.num_entries))


DEFAULT_SIZING = BloomSizing()
VECTOR_SIZE = DEFAULT_SIZING.vector_size
NB_HASH = DEFAULT_SIZING.nb_hash
NUM_ENTRIES = DEFAULT_SIZING.num_entries

_M = np.uint32(0x5BD1E995)


def _prepare_block(block: np.ndarray) -> tuple[list[np.ndarray], np.ndarray | None, int]:
    """The seed-independent part of MurmurHash2 for keys of one length: each little-endian
    32-bit word already mixed (k *= m; k ^= k >>> 24; k *= m) and the tail bytes folded into one
    value (Java bytes are signed, so they are sign-extended first). Computed once per key and
    reused by all NB_HASH rounds."""
    n, length = block.shape
    words = length // 4
    quads = block[:, : words * 4].reshape(n, words, 4).astype(np.uint32)
    ks = quads[:, :, 0] | (quads[:, :, 1] << 8) | (quads[:, :, 2] << 16) | (quads[:, :, 3] << 24)
    mixed = []
    for w in range(words):
        k = ks[:, w] * _M
        k ^= k >> np.uint32(24)
        k *= _M
        mixed.append(k)
    tail = block[:, words * 4 :].view(np.int8).astype(np.int32).view(np.uint32)
    left = tail.shape[1]
    folded = None
    if left:
        folded = tail[:, left - 1].copy()
        if left >= 2:
            folded ^= tail[:, left - 2] << np.uint32(8)
        if left >= 3:
            folded ^= tail[:, left - 3] << np.uint32(16)
    return mixed, folded, length


def _murmur(prepared: tuple[list[np.ndarray], np.ndarray | None, int], seeds: np.ndarray):
    """Hadoop MurmurHash (32-bit MurmurHash2) of each key, for one seed per key."""
    mixed, folded, length = prepared
    h = seeds ^ np.uint32(length)
    for k in mixed:
        np.multiply(h, _M, out=h)
        np.bitwise_xor(h, k, out=h)
    if folded is not None:
        np.bitwise_xor(h, folded, out=h)
        np.multiply(h, _M, out=h)
    np.bitwise_xor(h, h >> np.uint32(13), out=h)
    np.multiply(h, _M, out=h)
    np.bitwise_xor(h, h >> np.uint32(15), out=h)
    return h


def _string_buffers(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    keys = pa.array(keys, pa.string()) if not isinstance(keys, pa.Array) else keys
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    if keys.type != pa.string():
        keys = keys.cast(pa.string())
    keys = pa.concat_arrays([keys]) if keys.offset else keys
    if keys.null_count:
        raise ValueError("a record key is null")
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32, count=n + 1)
    data_buf = keys.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def _hash_groups(keys: pa.Array, nb_hash: int, vector_size: int):
    """(row numbers, bit positions nb_hash x len(rows)) for the keys of each length: hashing
    runs on whole length groups, and callers that only set bits need no reordering."""
    offsets, data = _string_buffers(keys)
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    if n and lengths.min() == 0:
        raise ValueError("a record key is empty")
    with np.errstate(over="ignore"):
        for length in np.unique(lengths):
            rows = np.nonzero(lengths == length)[0]
            prepared = _prepare_block(data[offsets[rows][:, None] + np.arange(length)])
            out = np.empty((nb_hash, len(rows)), dtype=np.uint32)
            seed = np.zeros(len(rows), dtype=np.uint32)
            for i in range(nb_hash):
                seed = _murmur(prepared, seed)
                # Java: Math.abs(seed % vectorSize) on signed ints, which is |seed| % vectorSize;
                # abs(INT_MIN) stays INT_MIN, whose unsigned view is the right 2^31.
                np.remainder(
                    np.abs(seed.view(np.int32)).view(np.uint32), np.uint32(vector_size), out=out[i]
                )
            yield rows, out


def hash_positions(keys: pa.Array, sizing: BloomSizing = DEFAULT_SIZING) -> np.ndarray:
    """Bit positions (n x nb_hash, uint32) of each key, in key order."""
    return key_positions(keys, sizing.nb_hash, sizing.vector_size)


def key_positions(keys: pa.Array, nb_hash: int, vector_size: int) -> np.ndarray:
    n = len(keys)
    out = np.empty((n, nb_hash), dtype=np.uint32)
    for rows, positions in _hash_groups(keys, nb_hash, vector_size):
        out[rows] = positions.T
    return out


_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8
)
_SEXTET = np.full(256, 255, dtype=np.uint8)
_SEXTET[_ALPHABET] = np.arange(64, dtype=np.uint8)


def b64decode(text: bytes | str) -> np.ndarray:
    """Standard Base64 (with '=' padding) to bytes, with numpy: a filter is 431 KB of text per
    file, and binascii would hold the GIL the writer's threads share for all of it."""
    chars = np.frombuffer(text.encode("ascii") if isinstance(text, str) else text, np.uint8)
    if len(chars) % 4:
        raise ValueError("Base64 text length is not a multiple of 4")
    pad = int((chars[-2:] == ord("=")).sum()) if len(chars) else 0
    sextets = _SEXTET[chars].astype(np.uint32)
    if pad:
        sextets[-pad:] = 0
    if (sextets == 255).any():
        raise ValueError("not Base64 text")
    quads = sextets.reshape(-1, 4)
    value = (quads[:, 0] << 18) | (quads[:, 1] << 12) | (quads[:, 2] << 6) | quads[:, 3]
    out = np.empty((len(value), 3), dtype=np.uint8)
    out[:, 0] = value >> 16
    out[:, 1] = (value >> 8) & 255
    out[:, 2] = value & 255
    return out.ravel()[: len(value) * 3 - pad]


def b64encode(data: np.ndarray | bytes) -> str:
    """Bytes to standard Base64 text with '=' padding. binascii holds the GIL, but only for
    about a millisecond per 431 KB filter: several times faster than doing it in numpy."""
    raw = data if isinstance(data, bytes) else np.ascontiguousarray(data, np.uint8).tobytes()
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def _java_int(x: int) -> int:
    """x as Java's 32-bit int arithmetic leaves it (the matrix.length * nr product wraps)."""
    return (x + 2**31) % 2**32 - 2**31


def _row_of_keys(n: int, sizing: BloomSizing) -> tuple[np.ndarray, int, int]:
    """Filter row of each key, the row count and the final currentNbRecord, following Hudi's
    bounded dynamic filter: rows of num_entries keys while rows*nr < max_entries, then keys
    go round-robin over the existing rows."""
    nr, max_nr = sizing.num_entries, sizing.max_entries
    idx = np.arange(n)
    rows = 1
    row = np.zeros(n, dtype=np.int64)
    while n > rows * nr and _java_int(rows * nr) < max_nr:
        rows += 1
    full = (rows - 1) * nr
    # Keys before `full` fill rows 0..rows-2 in order; the last row takes up to nr.
    row[:full] = idx[:full] // nr
    last_end = min(n, rows * nr)
    row[full:last_end] = rows - 1
    current = last_end - full
    if n > last_end:
        # Max reached: the triggering key goes to row 0, then (counter++ % rows) from 0.
        row[last_end] = 0
        later = idx[last_end + 1 :] - (last_end + 1)
        row[last_end + 1 :] = later % rows
        current += n - last_end
    return row, rows, current


def _header(sizing: BloomSizing, current: int, rows: int) -> bytes:
    return struct.pack(">iibiiii", -1, sizing.nb_hash, MURMUR, sizing.vector_size,
                       sizing.num_entries, current, rows)  # fmt: skip


def _row_header(sizing: BloomSizing) -> bytes:
    return struct.pack(">iibi", -1, sizing.nb_hash, MURMUR, sizing.vector_size)


def dynamic_bloom_filter(keys: pa.Array, sizing: BloomSizing = DEFAULT_SIZING) -> str:
    """The Base64 text Hudi stores under `org.apache.hudi.bloomfilter` for these keys (in file
    order), with the filter sized as BloomFilterFactory.createBloomFilter(num_entries, fpp,
    max_entries, "DYNAMIC_V0") sizes it."""
    n = len(keys)
    row, rows, current = _row_of_keys(n, sizing)
    bits = np.zeros((rows, sizing.vector_size), dtype=bool)
    if n:
        for key_rows, positions in _hash_groups(keys, sizing.nb_hash, sizing.vector_size):
            if rows == 1:
                bits[0][positions.ravel()] = True
                continue
            filter_row = row[key_rows]
            for r in range(rows):
                bits[r][positions[:, filter_row == r].ravel()] = True
    parts = [np.frombuffer(_header(sizing, current, rows), np.uint8)]
    row_header = np.frombuffer(_row_header(sizing), np.uint8)
    for r in range(rows):
        parts.append(row_header)
        parts.append(np.packbits(bits[r], bitorder="little"))
    return b64encode(np.concatenate(parts))


_HEAD = struct.calcsize(">iibiiii")
_ROW_HEAD_SIZE = struct.calcsize(">iibi")
_BITS_AT = _HEAD + _ROW_HEAD_SIZE  # where the bit vector of a one-row filter starts
_COUNT_AT = struct.calcsize(">iibii")  # currentNbRecord in the header


def extend_filter(
    serialized: bytes | str, added: np.ndarray, sizing: BloomSizing = DEFAULT_SIZING
) -> str | None:
    """The filter of a rewritten file from its previous version's: the old bits plus those of
    the keys added to the file (their hash_positions under `sizing`), or None when that is not
    possible, as when the old filter was sized differently.

    A key removed from the file keeps its bits, so the filter may answer "maybe" for it: a
    false positive, which every bloom index resolves by reading the file's keys. The header's
    record count counts such keys too, and the shortcut is taken only while that count stays
    within the filter's capacity (num_entries, one row), so the false-positive rate stays
    within hoodie.index.bloom.fpp. Beyond that the caller builds the filter from the file's
    keys.

    Only the Base64 quads (4 characters, 3 bytes) that hold changed bytes are decoded and
    encoded again: a few thousand of the text's 108k.
    """
    text = serialized.encode("ascii") if isinstance(serialized, str) else serialized
    if len(text) != 4 * ((_BITS_AT + (sizing.vector_size + 7) // 8 + 2) // 3):
        return None
    try:
        start = b64decode(text[: 4 * ((_BITS_AT + 2) // 3)]).tobytes()
    except ValueError:
        return None
    version, nb_hash, hash_type, vector_size, nr, current, rows = struct.unpack_from(
        ">iibiiii", start, 0
    )
    if (
        (version, nb_hash, hash_type, vector_size, nr, rows)
        != (-1, sizing.nb_hash, MURMUR, sizing.vector_size, sizing.num_entries, 1)
        or start[_HEAD:_BITS_AT] != _row_header(sizing)
        or current + len(added) > sizing.num_entries
    ):
        return None
    positions = added.ravel().astype(np.int64)
    count = np.frombuffer(struct.pack(">i", current + len(added)), np.uint8)
    offsets = np.concatenate([_COUNT_AT + np.arange(4), _BITS_AT + (positions >> 3)])
    masks = (1 << (positions & 7)).astype(np.uint8)
    chars = np.frombuffer(text, np.uint8).copy()
    touched = np.zeros(len(chars) // 4, dtype=bool)
    touched[offsets // 3] = True
    if touched[-1]:  # the last quad carries '=' padding: decode the whole text instead
        raw = b64decode(text).copy()
        raw[_COUNT_AT : _COUNT_AT + 4] = count
        np.bitwise_or.at(raw, offsets[4:], masks)
        return b64encode(raw)
    quads = np.nonzero(touched)[0]
    slot = np.cumsum(touched) - 1  # each touched quad's row in `data`
    at = (quads * 4)[:, None] + np.arange(4)
    sextets = _SEXTET[chars[at]].astype(np.uint32)
    if (sextets == 255).any():
        return None
    value = (sextets[:, 0] << 18) | (sextets[:, 1] << 12) | (sextets[:, 2] << 6) | sextets[:, 3]
    data = np.empty((len(quads), 3), dtype=np.uint8)
    data[:, 0] = value >> 16
    data[:, 1] = (value >> 8) & 255
    data[:, 2] = value & 255
    flat = data.ravel()
    target = slot[offsets // 3] * 3 + offsets % 3
    flat[target[:4]] = count
    np.bitwise_or.at(flat, target[4:], masks)
    value = (data[:, 0].astype(np.uint32) << 16) | (data[:, 1].astype(np.uint32) << 8) | data[:, 2]
    sextets = np.stack([value >> 18, (value >> 12) & 63, (value >> 6) & 63, value & 63], axis=1)
    chars[at] = _ALPHABET[sextets]
    return chars.tobytes().decode("ascii")


def might_contain(serialized: str, key: str) -> bool:
    """Membership test against a serialized DYNAMIC_V0 filter (used by tests and diagnostics)."""
    raw = b64decode(serialized).tobytes()
    _, nb_hash, _, vector_size, _, _, rows = struct.unpack_from(">iibiiii", raw, 0)
    pos = key_positions(pa.array([key]), nb_hash, vector_size)[0]
    row_len = _ROW_HEAD_SIZE + (vector_size + 7) // 8
    for r in range(rows):
        start = _HEAD + r * row_len + _ROW_HEAD_SIZE
        bits = np.frombuffer(raw, dtype=np.uint8, count=(vector_size + 7) // 8, offset=start)
        if all(bits[p >> 3] & (1 << (p & 7)) for p in pos):
            return True
    return False
