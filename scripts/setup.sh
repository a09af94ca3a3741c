#!/usr/bin/env bash
# Set up nbrepro on a fresh Debian machine. Idempotent: a second run only checks.
#
#   scripts/setup.sh demo   Debian packages for checks (scripts/system-packages.txt),
#                           .venv with nbrepro installed (editable)
#   scripts/setup.sh test   also the test packages (scripts/system-packages-test.txt),
#                           the test dependencies, the JupyterLab front end build,
#                           a running Docker engine, the offline test base image and a
#                           PostgreSQL server on 127.0.0.1 (scripts/postgres.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-demo}"
case "$mode" in
  demo) lists=(scripts/system-packages.txt); extras="" ;;
  test) lists=(scripts/system-packages.txt scripts/system-packages-test.txt); extras="[test]" ;;
  *) echo "usage: scripts/setup.sh demo|test" >&2; exit 2 ;;
esac

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < <(cat "${lists[@]}")
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
[[ -x .venv/bin/uv ]] || .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
# The demo needs only the command line: skip the JupyterLab front-end build there.
skip_frontend=""; [[ "$mode" == demo ]] && skip_frontend=1
SKIP_JUPYTER_BUILDER="$skip_frontend" \
  .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ".${extras}"
# An editable install leaves the project's own modules uncompiled; where the shell
# sets PYTHONDONTWRITEBYTECODE, every nbrepro process (each audit worker, each check)
# would compile them again from source: about 0.3 s of CPU per process.
.venv/bin/python -m compileall -q -j 0 checker/nbrepro extension/jupyter_nbrepro >/dev/null

if [[ "$mode" == test ]]; then
  # The front end is built once; a wheel build then ships it without node.
  if [[ ! -f extension/jupyter_nbrepro/labextension/static/style.js ]]; then
    extension/scripts/build-frontend.sh
  fi
  scripts/docker-engine.sh
  scripts/base-image.sh
  scripts/postgres.sh >/dev/null
fi
echo "setup: ready (.venv, $mode)"
