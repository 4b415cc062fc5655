"""Short helpers for the lines users read."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
