#!/usr/bin/python3
"""Writes PyTorch reference fixtures for @convoy/nn's layers beyond the recipe (BatchNorm2d over
ghost groups, GELU, Dropout, Residual, Scale, GlobalMaxPool2d, pooling with stride/padding, bias-free
Conv2d and Linear, and airbench's pieces: a whitening first conv, identity-initialised conv and
linear layers, frozen parameters, BatchNorm without a weight), built from model files by model_file.py.

Run:  /usr/bin/python3 tools/pytorch/make_layer_fixtures.py
Output: packages/nn/test/fixtures/layers.json (small: the networks are tiny, values as JSON numbers).

Weights, input and labels are not stored: both sides draw them from the seed with convoy's Rng
(input Rng.forKey(seed, 1) as 4u - 2, labels Rng.forKey(seed, 2)). PyTorch computes in float64.
Per network the file holds: the training-mode logits and loss (step 0), every parameter gradient,
the parameters after one SGD step, the buffers after that step's forward, the eval-mode logits
after the step, and the training loss of step 1 (new dropout masks, updated BatchNorm weights).
A whitening layer takes its filters from the network's own input batch; frozen parameters have
no gradient here (null) and the SGD step, built on the trainable ones, leaves them as they were.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_file import write_fixture  # noqa: E402
from convoy_rng import Rng  # noqa: E402
from model_file import build, initialise_like_convoy, set_step_context, whiten_like_convoy  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'nn', 'test', 'fixtures', 'layers.json')
SGD = {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 5e-4}

NETWORKS = [
    {
        'name': 'bn-residual-gelu-dropout',
        'seed': 31, 'batch': 8, 'classes': 5,
        'model': {
            'input': {'channels': 3, 'resolution': 8},
            'layers': [
                {'type': 'conv2d', 'out': 6, 'kernel': 3, 'padding': 1, 'bias': False},
                {'type': 'batchnorm2d', 'groupSize': 4},
                {'type': 'relu'},
                {'type': 'residual', 'layers': [
                    {'type': 'conv2d', 'out': 6, 'kernel': 3, 'padding': 1, 'bias': False},
                    {'type': 'batchnorm2d', 'groupSize': 4},
                    {'type': 'relu'},
                    {'type': 'conv2d', 'out': 6, 'kernel': 1},
                    {'type': 'batchnorm2d', 'groupSize': 4, 'affine': False}]},
                {'type': 'maxpool2d', 'kernel': 2},
                {'type': 'conv2d', 'out': 8, 'kernel': 3, 'stride': 2, 'padding': 1},
                {'type': 'gelu'},
                {'type': 'avgpool2d', 'kernel': 3, 'stride': 1, 'padding': 1},
                {'type': 'globalavgpool2d'},
                {'type': 'flatten'},
                {'type': 'linear', 'out': 10},
                {'type': 'gelu'},
                {'type': 'dropout', 'p': 0.3},
                {'type': 'linear', 'out': 'classes'},
                {'type': 'scale', 'by': 0.5},
            ],
        },
    },
    {
        'name': 'globalmax-dropout-nobias',
        'seed': 32, 'batch': 6, 'classes': 3,
        'model': {
            'input': {'channels': 1, 'resolution': 7},
            'layers': [
                {'type': 'conv2d', 'out': 4, 'kernel': 3},
                {'type': 'batchnorm2d'},
                {'type': 'relu'},
                {'type': 'globalmaxpool2d'},
                {'type': 'flatten'},
                {'type': 'dropout', 'p': 0.5},
                {'type': 'linear', 'out': 'classes', 'bias': False},
            ],
        },
    },
    {
        'name': 'airbench-pieces',
        'seed': 33, 'batch': 8, 'classes': 4,
        'model': {
            'input': {'channels': 3, 'resolution': 8},
            'layers': [
                {'type': 'conv2d', 'out': 24, 'kernel': 2, 'init': 'whitening', 'frozen': ['weight']},
                {'type': 'gelu'},
                {'type': 'conv2d', 'out': 8, 'kernel': 3, 'padding': 1, 'bias': False, 'init': 'identity'},
                {'type': 'maxpool2d', 'kernel': 2},
                {'type': 'batchnorm2d', 'weight': False, 'momentum': 0.4, 'eps': 1e-12, 'groupSize': 4},
                {'type': 'gelu'},
                {'type': 'conv2d', 'out': 12, 'kernel': 3, 'padding': 1, 'bias': False, 'init': 'identity'},
                {'type': 'batchnorm2d', 'weight': False, 'momentum': 0.4, 'eps': 1e-12, 'groupSize': 4},
                {'type': 'gelu'},
                {'type': 'conv2d', 'out': 6, 'kernel': 3, 'padding': 1, 'init': 'identity', 'frozen': True},
                {'type': 'globalmaxpool2d'},
                {'type': 'flatten'},
                {'type': 'linear', 'out': 5, 'init': 'identity', 'frozen': ['bias']},
                {'type': 'gelu'},
                {'type': 'linear', 'out': 'classes', 'bias': False},
                {'type': 'scale', 'by': 1 / 9},
            ],
        },
    },
]


def f32(values):
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def numbers(t):
    return [float(v) for v in t.detach().numpy().ravel()]


def run(case):
    seed, batch, classes = case['seed'], case['batch'], case['classes']
    net = build(case['model'], classes).double()
    initialise_like_convoy(net, Rng(seed))
    inp = case['model']['input']
    shape = (batch, inp['channels'], inp['resolution'], inp['resolution'])
    input_rng = Rng.for_key(seed, 1)
    x = torch.from_numpy(f32([4 * input_rng.uniform() - 2 for _ in range(int(np.prod(shape)))]).reshape(shape))
    label_rng = Rng.for_key(seed, 2)
    labels = [label_rng.int(classes) for _ in range(batch)]
    y = torch.tensor(labels)
    whiten_like_convoy(net, x)

    net.train()
    set_step_context(net, seed, 0)
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    grads = {name: numbers(p.grad) if p.requires_grad else None for name, p in net.named_parameters()}
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=SGD['lr'], momentum=SGD['momentum'], weight_decay=SGD['weightDecay'])
    opt.step()
    after = {name: numbers(p) for name, p in net.named_parameters()}
    buffers = {name: numbers(b.double()) for name, b in net.named_buffers()}
    with torch.no_grad():
        net.eval()
        eval_logits = numbers(net(x))
        net.train()
        set_step_context(net, seed, 1)
        loss1 = float(nn.functional.cross_entropy(net(x), y))
    return {
        'name': case['name'], 'seed': seed, 'batch': batch, 'classes': classes, 'model': case['model'],
        'labels': labels,
        'logits': numbers(logits), 'loss': float(loss),
        'parameters': [{'name': n, 'shape': list(p.shape), 'grad': grads[n], 'afterStep': after[n], **({} if p.requires_grad else {'frozen': True})}
                       for n, p in net.named_parameters()],
        'buffers': [{'name': n, 'values': v} for n, v in buffers.items()],
        'evalLogits': eval_logits, 'lossAtStep1': loss1,
    }


def main():
    torch.set_grad_enabled(True)
    out = {
        'description': 'PyTorch %s reference for convoy layers; regenerate with tools/pytorch/make_layer_fixtures.py' % torch.__version__,
        'sgd': SGD,
        'networks': [run(case) for case in NETWORKS],
    }
    write_fixture(OUT, out, compact=True)
    print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
