"""Audio output availability (sounddevice / PortAudio).

The app must start without PortAudio or without a sound card: this module
never raises on import; :func:`probe_audio` says whether sound can play and,
if not, why and how to fix it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class AudioStatus:
    """Whether audio output works; ``reason`` and ``fix`` explain when not."""

    available: bool
    device: str = ""
    reason: str = ""
    fix: str = ""

    def describe(self) -> str:
        if self.available:
            return f"Audio: {self.device}"
        return f"Audio off: {self.reason} {self.fix}".strip()


def _install_hint() -> str:
    if sys.platform.startswith("linux"):
        return "Install PortAudio (Debian/Ubuntu: sudo apt-get install libportaudio2) and restart GenScope."
    if sys.platform == "darwin":
        return "Reinstall the sounddevice package (pip install --force-reinstall sounddevice), which bundles PortAudio."
    return "Reinstall the sounddevice package, which bundles PortAudio on this system."


def probe_audio() -> AudioStatus:
    """Try to load PortAudio and find a default output device."""
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio shared library is missing
        return AudioStatus(False, reason=f"PortAudio library not found ({exc}).", fix=_install_hint())
    except ImportError as exc:
        return AudioStatus(False, reason=f"the sounddevice package is not installed ({exc}).",
                           fix="pip install sounddevice")
    try:
        info = sd.query_devices(kind="output")
    except sd.PortAudioError as exc:
        return AudioStatus(False, reason=f"no audio output device ({exc}).",
                           fix="Connect or enable a sound device; generation still works and Save WAV still works.")
    return AudioStatus(True, device=str(info.get("name", "default output")))
