#!/usr/bin/env bash
# Make a Docker engine answer on this machine, for nbrepro's docker backend and its tests.
#   - an engine that already answers `docker version` is left alone;
#   - otherwise install docker.io (Debian) if dockerd is missing, start dockerd in the
#     background (log: $NBREPRO_DOCKERD_LOG, default /var/log/nbrepro-dockerd.log) and
#     wait until it answers.
# Idempotent; safe to run before every test run. Needs root (or sudo) to start dockerd.
set -euo pipefail

log="${NBREPRO_DOCKERD_LOG:-/var/log/nbrepro-dockerd.log}"
wait_s="${NBREPRO_DOCKERD_WAIT:-60}"

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  echo "docker-engine: engine answers ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing docker.io"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    docker.io >/dev/null
fi

# Another run of this script may be starting the engine right now: wait for it rather
# than starting a second dockerd on the same socket.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "docker-engine: starting dockerd (log: $log)"
  # setsid + nohup: the engine outlives this script and the shell that ran it.
  $SUDO setsid nohup dockerd >"$log" 2>&1 </dev/null &
fi

for _ in $(seq "$wait_s"); do
  if answers; then
    echo "docker-engine: engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within ${wait_s} s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
