#!/usr/bin/python3
"""Builds the PyTorch module of convoy model files with model_file.py and runs each on the images
and weights convoy ran it with, so a test can check that a model file means the same network on
both sides (tested by apps/trainer/test/exampleModels.test.ts).

Reads JSON on stdin: {"jobs": [{"model": <model file JSON>, "classes": N,
"input": {"shape": [N, C, H, W], "float32": <base64>}, "parameters": [{"name", "shape", "float32"}]}]}
(float32: little-endian float32 bytes, base64). Loads the parameters into the module's state_dict
(buffers keep their initial values, as convoy's), runs the eval-mode forward in float64, and
prints one JSON line: {"results": [{"names": state_dict keys with shapes, "logits": [...]}]}.

Usage:  /usr/bin/python3 tools/pytorch/check_model_file.py < jobs.json
"""
import base64
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_file import build  # noqa: E402


def tensor(shape, data):
    values = np.frombuffer(base64.b64decode(data), dtype='<f4').astype(np.float64)
    return torch.from_numpy(values.copy()).reshape(shape)


def run(job):
    net = build(job['model'], job['classes']).double()
    names = [{'name': k, 'shape': list(v.shape)} for k, v in net.state_dict().items()]
    state = net.state_dict()
    with torch.no_grad():
        for p in job['parameters']:
            if p['name'] not in state:
                raise KeyError(f"convoy's parameter {p['name']} is not in the PyTorch module's state_dict")
            state[p['name']].copy_(tensor(p['shape'], p['float32']))
        net.eval()
        logits = net(tensor(job['input']['shape'], job['input']['float32']))
    return {'names': names, 'logits': logits.reshape(-1).tolist()}


def main():
    jobs = json.load(sys.stdin)['jobs']
    print(json.dumps({'results': [run(job) for job in jobs]}))


if __name__ == '__main__':
    main()
