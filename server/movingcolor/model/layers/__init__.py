"""Reusable network layers: FFC, soft split/composite, attention, F3N, transformer block."""
