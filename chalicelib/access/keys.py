"""API keys: made at random, shown once, kept only as a hash.

A key carries 256 random bits, so a plain SHA-256 is enough to keep it: a slow password hash guards
guessable secrets against brute force, and nothing guessable is stored here. A fast hash also keeps the
authorizer's lookup one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_BYTES = 32


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
