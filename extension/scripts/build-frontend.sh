#!/usr/bin/env bash
# Build the JupyterLab front end of nbrepro.
#
# Installs the JavaScript dependencies exactly as pinned in extension/yarn.lock
# and builds the prebuilt (federated) extension into
# extension/jupyter_nbrepro/labextension, which `pip install .` then ships as
# share/jupyter/labextensions/jupyter-nbrepro.
#
# Usage: extension/scripts/build-frontend.sh [--dev] [--update-lock]
#   --dev          development build (source maps, unminified)
#   --update-lock  allow yarn.lock to change (after editing package.json)
#
# Needs node ^20.19 or >=22.12, and jlpm + jupyter-builder from the Python
# package `jupyter_builder` (JupyterLab 4.6 depends on it). They are taken from
# PATH, else from the repository's .venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"

build_script="build:prod"
immutable="--immutable"
for arg in "$@"; do
    case "$arg" in
        --dev) build_script="build" ;;
        --update-lock) immutable="" ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "build-frontend.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

if ! command -v jlpm >/dev/null 2>&1 || ! command -v jupyter-builder >/dev/null 2>&1; then
    if [ -x "$repo/.venv/bin/jlpm" ] && [ -x "$repo/.venv/bin/jupyter-builder" ]; then
        export PATH="$repo/.venv/bin:$PATH"
    else
        echo "build-frontend.sh: jlpm/jupyter-builder not found; pip install jupyter_builder (or jupyterlab>=4.6)" >&2
        exit 2
    fi
fi
if ! command -v node >/dev/null 2>&1; then
    echo "build-frontend.sh: node not found (need ^20.19 or >=22.12)" >&2
    exit 2
fi

cd "$here"
echo "+ jlpm install $immutable   (node $(node --version), in $here)"
jlpm install $immutable
echo "+ jlpm run $build_script"
jlpm run "$build_script"
test -f jupyter_nbrepro/labextension/package.json
test -f jupyter_nbrepro/labextension/static/style.js
echo "built: $here/jupyter_nbrepro/labextension"
