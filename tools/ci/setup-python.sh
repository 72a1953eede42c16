#!/usr/bin/env bash
# Installs the Python side of the export checks: PyTorch (python3-torch), which rebuilds a
# `convoy export` safetensors file from its metadata (tools/pytorch/convoy_export.py) and must give
# convoy's logits, and onnx (python3-onnx), whose checker must accept `convoy export --format onnx`
# files. Also what the tools/pytorch fixture scripts need. convoy itself never runs Python. Without
# these packages the checks say so and are skipped, unless CONVOY_PYTHON_TESTS=1 (CI) makes that a
# failure. Idempotent; needs root (or passwordless sudo) on Debian/Ubuntu.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" setup-python python3 python3-numpy python3-torch python3-onnx python3-pil
