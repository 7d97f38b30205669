"""Short job IDs a person can read aloud and type into `/jobs ID`."""

from __future__ import annotations

import secrets

# Crockford's base32: no I, L, O or U, so nothing is mistaken for 1, 0 or V.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8


def new_job_id() -> str:
    """Eight base32 characters: 40 bits, collision-free for any realistic volume."""
    bits = secrets.randbits(5 * LENGTH)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(LENGTH))


def normalize_job_id(text: str) -> str:
    """Accept what people type: lower case, and the letters Crockford maps to digits."""
    return text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
