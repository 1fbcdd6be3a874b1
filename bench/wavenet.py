"""Benchmark: WaveNet generation speed and streaming playback without underruns.

One CPU thread, the bundled model assets/wavenet.safetensors when present,
else a random-weight model of the same default size (the JSON says which).

- ``realtime_factor``: generated samples per second / the model's sample
  rate on the cached compiled path (median of ``--repeats`` runs of
  ``--seconds``), target >= 2;
- ``speedup_vs_naive``: per-sample time of the naive path (a forward pass
  over the receptive field per sample) / the cached one, same model, same
  seed, same run; the bench checks both paths drew the same codes; target >= 100;
- ``underruns``: a ``--stream-seconds`` run (default 10) played through
  PortAudio while it is generated, target 0. The sink must be clocked in real
  time: the bench starts a JACK server with the dummy driver when ``jackd``
  is installed (``apt-get install jackd2``); otherwise it uses the null ALSA
  device, which swallows audio faster than real time: ``underruns`` is then
  null and ``underruns_reason`` says why (a figure it cannot measure is
  never printed);
- ``mflop_per_sample`` and ``gflops_achieved`` (cached path).

    python bench/wavenet.py [--repeats 3] [--seconds 3]

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.cards.bundled import ASSETS_DIR  # noqa: E402
from engine.models import wavenet_kernels  # noqa: E402
from engine.catalog import load_model  # noqa: E402
from engine.models.wavenet import WaveNet  # noqa: E402
from engine.sampling.wavenet import AudioChunk, generate, generate_steps  # noqa: E402

JACK_SERVER = "genscope-bench"


def bench_model() -> tuple[WaveNet, str]:
    path = ASSETS_DIR / "wavenet.safetensors"
    if path.exists():
        return load_model(path, expected_kind="wavenet"), "assets/wavenet.safetensors"
    torch.manual_seed(0)
    return WaveNet(layers_per_stack=10, cond_classes=10).eval(), "random weights (no bundled assets/wavenet.safetensors)"


def label_of(model: WaveNet) -> int | None:
    return 7 if model.cond_classes else None


def start_jack(rate: int) -> subprocess.Popen | None:
    """A JACK server with the dummy (timer-clocked) driver, or None when jackd is not installed."""
    if not shutil.which("jackd"):
        return None
    proc = subprocess.Popen(["jackd", "-n", JACK_SERVER, "-d", "dummy", "-r", str(rate), "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    os.environ["JACK_DEFAULT_SERVER"] = JACK_SERVER
    return proc if proc.poll() is None else None


def stream_run(model: WaveNet, seconds: float, jack: bool) -> dict:
    """Generate ``seconds`` of audio while playing it; count underruns."""
    if not jack:
        os.environ.setdefault("ALSA_CONFIG_PATH", str(ROOT / "tests" / "alsa-null.conf"))
    import sounddevice as sd  # after the JACK server is up: PortAudio lists host APIs when it loads

    from app.audio import StreamPlayer

    device = None
    if jack:
        device = next((i for i, d in enumerate(sd.query_devices())
                       if "JACK" in sd.query_hostapis(d["hostapi"])["name"] and d["max_output_channels"]), None)
    player = StreamPlayer(model.sample_rate, prebuffer_s=0.3, device=device)
    start = time.perf_counter()
    for event in generate_steps(model, seconds, seed=11, label=label_of(model)):
        if isinstance(event, AudioChunk):
            player.write(event.audio)
    player.finish()
    player.done.wait(seconds + 10)
    wall = time.perf_counter() - start
    player.stop()
    sd._terminate()  # release PortAudio before the JACK server goes away (else its JACK client asserts at exit)
    clocked = jack and device is not None
    sink = "JACK dummy driver (real-time clock)" if clocked else "null ALSA device (not clocked)"
    underruns, reason = measured_underruns(player.underruns, clocked, player.error)
    return {"underruns": underruns, "underruns_reason": reason, "played_s": round(player.played_s, 2),
            "stream_wall_s": round(wall, 2), "sink": sink, "audio_error": player.error}


def measured_underruns(count: int, clocked: bool, error: str) -> tuple[int | None, str | None]:
    """The underrun count and None, or None and why it means nothing: a sink that is not clocked in real time
    (the null ALSA device asks for audio as fast as it can, so it runs dry after every chunk whatever the
    generator's speed), or a stream that never played."""
    if error:
        return None, f"the audio stream failed ({error}); nothing was played"
    if not clocked:
        return None, ("no real-time clocked sink: the null ALSA device swallows audio faster than real time, so "
                      "its count says nothing about playback; install jackd (scripts/sysdeps.sh --bench) for "
                      "JACK's timer-clocked dummy driver")
    return count, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--naive-samples", type=int, default=400)
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, source = bench_model()
    rate, label = model.sample_rate, label_of(model)
    generate(model, 0.01, label=label)  # load the compiled step from numba's cache (or compile it)
    runs = [generate(model, args.seconds, seed=i, label=label).seconds for i in range(args.repeats)]
    fast_s = statistics.median(runs)
    rtf = args.seconds / fast_s
    print(f"cached: {args.seconds} s of audio in {fast_s:.2f} s ({rtf:.1f}x real time)", file=sys.stderr)
    n = args.naive_samples
    fast = generate(model, n / rate, seed=3, label=label)
    naive = generate(model, n / rate, seed=3, label=label, method="naive")
    per_fast, per_naive = fast_s / (args.seconds * rate), naive.seconds / n
    print(f"naive: {1e3 * per_naive:.2f} ms per sample; cached {1e6 * per_fast:.1f} µs", file=sys.stderr)
    jack = start_jack(rate)
    try:
        stream = stream_run(model, args.stream_seconds, jack is not None)
    finally:
        if jack is not None:
            jack.terminate()
            jack.wait(5)
    print(f"stream: {stream}", file=sys.stderr)
    mflop = model.mflop_per_sample()
    result = {
        "bench": "wavenet_generation", "model": source, "hparams": model.hparams(),
        "receptive_field": model.receptive_field, "threads": torch.get_num_threads(),
        "compiled_step": bool(wavenet_kernels.HAVE_NUMBA),
        "realtime_factor": round(rtf, 2), "fast_s_per_second_of_audio": round(fast_s / args.seconds, 4),
        "naive_ms_per_sample": round(1e3 * per_naive, 3), "cached_us_per_sample": round(1e6 * per_fast, 2),
        "speedup_vs_naive": round(per_naive / per_fast, 1), "naive_equals_fast": bool(np.array_equal(fast.codes, naive.codes)),
        **stream, "mflop_per_sample": round(mflop, 4), "gflops_achieved": round(mflop * rtf * rate / 1e3, 2),
        "targets": {"realtime_factor": 2.0, "speedup_vs_naive": 100, "underruns": 0},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
