"""Run in a training batch worker: how many threads each of its pools would use.

A module of its own, apart from the test modules, so that the worker imports nothing for it that
a batch worker would not load anyway (torch's OpenMP pool among them).
"""

from __future__ import annotations


def worker_threads() -> dict:
    import cv2
    import OpenImageIO
    import scipy.linalg  # noqa: F401 - scipy's own BLAS, where nothing loaded it yet: a late load
    from movingcolor.compute_pool import usable_cores
    from threadpoolctl import threadpool_info

    return {
        "blas": {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()},
        "arrays": usable_cores(),
        "opencv": cv2.getNumThreads(),
        "openimageio": OpenImageIO.get_int_attribute("threads"),
    }
