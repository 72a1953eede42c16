"""A bit-exact Python port of @convoy/tensor's Rng (xoshiro128** seeded by MurmurHash3 lanes)
and its kaimingUniform/biasUniform initialisers, so fixture weights and inputs can be regenerated
from a seed on both sides instead of being stored."""
import math

M32 = 0xFFFFFFFF
TWO_POW_32 = 4294967296


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def _imul(a, b):
    return (a * b) & M32


def _fmix32(h):
    h &= M32
    h ^= h >> 16
    h = _imul(h, 0x85EBCA6B)
    h ^= h >> 13
    h = _imul(h, 0xC2B2AE35)
    h ^= h >> 16
    return h


def _to_words(values):
    words = []
    for v in values:
        if not isinstance(v, int) or abs(v) > 2**53 - 1:
            raise ValueError(f"seeds and keys must be safe integers, got {v}")
        words.append(v & M32)
        words.append((v // TWO_POW_32) & M32)
    return words


def _hash_words(words, lane):
    h = _fmix32(0x9E3779B9 + _imul(lane, 0x7F4A7C15))
    for w in words:
        k = _imul(w, 0xCC9E2D51)
        k = _rotl(k, 15)
        k = _imul(k, 0x1B873593)
        h ^= k
        h = _rotl(h, 13)
        h = (_imul(h, 5) + 0xE6546B64) & M32
    h ^= (len(words) * 4) & M32
    return _fmix32(h)


class Rng:
    def __init__(self, seed, *keys):
        words = _to_words([seed, *keys])
        self.s = [_hash_words(words, lane) for lane in range(4)]
        if not any(self.s):
            self.s[0] = 1

    @classmethod
    def for_key(cls, seed, *keys):
        return cls(seed, *keys)

    def next_uint32(self):
        s0, s1, s2, s3 = self.s
        result = _imul(_rotl(_imul(s1, 5), 7), 9)
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        hi = self.next_uint32() >> 5
        lo = self.next_uint32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992

    def int(self, n):
        limit = TWO_POW_32 - (TWO_POW_32 % n)
        x = self.next_uint32()
        while x >= limit:
            x = self.next_uint32()
        return x % n


def uniform_fill(count, bound, rng):
    """Doubles exactly as the TS uniformFill computes them (the caller rounds to float32)."""
    return [(2 * rng.uniform() - 1) * bound for _ in range(count)]


def kaiming_uniform_bound(fan_in):
    a = math.sqrt(5)
    gain = math.sqrt(2 / (1 + a * a))
    return gain * math.sqrt(3 / fan_in)


def bias_uniform_bound(fan_in):
    return 1 / math.sqrt(fan_in)
