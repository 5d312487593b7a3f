"""Per-pixel 3×3 symmetric solves over colour covariances, shared by the numpy and torch guided
filters and the local colour fit of a host's composite."""

from __future__ import annotations

#: The ``(row, column)`` of each of a symmetric 3×3 matrix's six distinct elements, in the
#: order :func:`solve_symmetric3` takes them.
PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def regularised(entries: list, eps: float) -> tuple:
    """The six elements of ``M + eps·I`` from those of ``M`` (ridge regularisation)."""
    return tuple(entry + eps if i == j else entry for entry, (i, j) in zip(entries, PAIRS, strict=True))


def solve_symmetric3(entries: tuple, rhs: tuple) -> tuple:
    """Solve ``M x = r`` per pixel for symmetric 3×3 ``M`` by cofactors.

    ``entries`` are M's six distinct elements ``(m00, m01, m02, m11, m12, m22)`` and
    ``rhs`` the three of ``r``, each an image-shaped array of any array library
    (numpy here, torch on the network's device): element-wise arithmetic over
    whole images is several times faster than a batched solve of millions of tiny
    systems.
    """
    a, b, c, d, e, f = entries
    inv00, inv01, inv02 = d * f - e * e, c * e - b * f, b * e - c * d
    inv11, inv12, inv22 = a * f - c * c, b * c - a * e, a * d - b * b
    determinant = a * inv00 + b * inv01 + c * inv02
    r0, r1, r2 = rhs
    return (
        (inv00 * r0 + inv01 * r1 + inv02 * r2) / determinant,
        (inv01 * r0 + inv11 * r1 + inv12 * r2) / determinant,
        (inv02 * r0 + inv12 * r1 + inv22 * r2) / determinant,
    )
