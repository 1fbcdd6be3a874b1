"""numba's ``njit`` when numba is installed, else a no-op decorator (the compiled kernels then run as Python).

Kernels import ``njit`` and ``HAVE_NUMBA`` from here; callers check
``HAVE_NUMBA`` to pick the torch path instead of slow pure-Python loops.
"""

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a declared dependency
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        return lambda f: f


__all__ = ["HAVE_NUMBA", "njit"]
