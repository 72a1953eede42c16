#!/usr/bin/python3
"""Runs train_model_file.py's ports of convoy's random and scheduled parts on inputs sent by convoy,
so a test can require the same values on both sides (apps/trainer/test/pytorchTraining.test.ts):
the epoch order, the augmented and normalised batch, the one-cycle learning rate and momentum, and
the keyed dropout uniforms.

Reads JSON on stdin:
  {"order": {"count", "seed", "epoch"},
   "batch": {"pixels": <base64 uint8, N x 3 x 32 x 32>, "labels": [...], "indices": [...], "augment", "seed", "epoch"},
   "schedule": {"lr", "momentum", "total", "warmup", "steps": [...]},
   "dropout": {"seed", "step", "samples": [...], "key", "count"}}
Prints one JSON line: {"order": [...], "batch": <base64 float32>, "labels": [...], "lr": [...],
"momentum": [...], "uniforms": [[...], ...]} (float32 as little-endian base64, doubles as JSON numbers,
which round-trip exactly).

Usage:  /usr/bin/python3 tools/pytorch/check_training_recipe.py < request.json
"""
import base64
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_model_file import (epoch_order, fill_batch, keyed_uniforms, normalisation_table,  # noqa: E402
                              one_cycle_lr, one_cycle_momentum)


def main():
    request = json.load(sys.stdin)
    o = request['order']
    b = request['batch']
    s = request['schedule']
    d = request['dropout']
    pixels = np.frombuffer(base64.b64decode(b['pixels']), dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(b['labels'], dtype=np.int64)
    x, y = fill_batch(pixels, labels, np.asarray(b['indices'], dtype=np.int64), normalisation_table(), b['augment'], b['seed'], b['epoch'])
    lr = one_cycle_lr(s['lr'], s['total'], s['warmup'])
    momentum = one_cycle_momentum(s['total'], s['warmup'], s['momentum'] - 0.05, s['momentum'] + 0.05)
    print(json.dumps({
        'order': epoch_order(o['count'], o['seed'], o['epoch']).tolist(),
        'batch': base64.b64encode(x.numpy().astype('<f4').tobytes()).decode('ascii'),
        'labels': y.tolist(),
        'lr': [lr(step) for step in s['steps']],
        'momentum': [momentum(step) for step in s['steps']],
        'uniforms': keyed_uniforms(d['seed'], d['step'], d['samples'], d['key'], d['count']).tolist(),
    }))


if __name__ == '__main__':
    main()
