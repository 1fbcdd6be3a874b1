#!/usr/bin/env bash
# Install the system libraries GenScope uses, when we can (root + apt-get):
# PortAudio for sound, and the xcb libraries Qt needs for a real window.
# Without them the app still starts and explains what is missing.
# --bench adds jackd2: bench/wavenet.py plays into JACK's timer-clocked dummy
# driver to count underruns (the null ALSA device is not clocked).
# --test adds xvfb, xdotool and imagemagick: tests/app/test_e2e_smoke.py runs
# main.py on a private X server, clicks with xdotool and reads the screen with
# ImageMagick's import (`make test` passes it; without them that test skips).
set -u
quiet=0; bench=0; testing=0
for arg in "$@"; do
  case "$arg" in --quiet) quiet=1 ;; --bench) bench=1 ;; --test) testing=1 ;; esac
done
pkgs=(libportaudio2 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-xinerama0
      libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3)
[ $bench -eq 1 ] && pkgs+=(jackd2)
[ $testing -eq 1 ] && pkgs+=(xvfb xdotool imagemagick)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  [ $quiet -eq 1 ] || echo "note: could not check system packages (no apt-get); sound needs PortAudio." >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "note: missing system packages: ${missing[*]}" >&2
  echo "      install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "Installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || echo "note: apt-get could not install ${missing[*]}; the app will run without them and say what is off." >&2
exit 0
