"""Test-wide setup: offscreen Qt, the null ALSA device, a temp user data dir."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GENSCOPE_RUNS", str(Path(tempfile.mkdtemp(prefix="genscope-runs-"))))
_alsa = Path(__file__).with_name("alsa-null.conf")
if _alsa.exists():
    os.environ.setdefault("ALSA_CONFIG_PATH", str(_alsa))


import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

# Property tests draw the same examples every run, so CI is repeatable; HYPOTHESIS_EXPLORE=1 draws new ones.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile("explore" if os.environ.get("HYPOTHESIS_EXPLORE") else "repeatable")


@pytest.fixture(scope="session", autouse=True)
def _compiled_kernels():
    """Compile (or load from numba's cache) the samplers' kernels once, before any test waits on a job that
    would otherwise pay a ~20 s first compile inside its timeout."""
    from engine.cli.warmup import warm_up_kernels

    warm_up_kernels()
