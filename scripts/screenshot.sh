#!/usr/bin/env bash
# Take a screenshot of the real GenScope window under Xvfb.
#   scripts/screenshot.sh OUT.png [seconds-to-wait] [app args...]
# Needs: apt-get install -y xvfb xauth imagemagick (and the xcb libraries).
set -euo pipefail
out=${1:?usage: scripts/screenshot.sh OUT.png [wait] [args...]}; shift
wait=${1:-6}; shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
export ALSA_CONFIG_PATH=${ALSA_CONFIG_PATH:-$here/tests/alsa-null.conf}
xvfb-run -a -s "-screen 0 1280x860x24" bash -c "
  '$here/.venv/bin/python' '$here/main.py' $* &
  pid=\$!
  sleep $wait
  import -window root -crop 1200x800+0+0 '$out'
  kill \$pid; wait \$pid 2>/dev/null || true
"
echo "wrote $out"
