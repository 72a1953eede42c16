#!/usr/bin/python3
"""Writes PyTorch reference fixtures for @convoy/nn's CIFAR recipe network.

Run with Debian's PyTorch (see README.md):  /usr/bin/python3 tools/pytorch/make_fixtures.py

The weights, input and labels are NOT stored: they are regenerated bit for bit on both sides from
a seed by convoy's own Rng (ported in convoy_rng.py) and PyTorch-default initialisers. What PyTorch
computes (logits, loss, every parameter gradient, the parameter change after 3 SGD and 3 AdamW
steps) is computed in float64 and stored as int16 with one power-of-two scale per tensor (error at
most 2^-15 of the tensor's largest magnitude), split into byte planes and gzip-compressed, to stay well under 2 MB.
"""
import gzip
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convoy_rng import Rng, bias_uniform_bound, kaiming_uniform_bound, uniform_fill  # noqa: E402
from fixture_file import provenance, write_fixture  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'nn', 'test', 'fixtures')
NAME = 'recipe-cifar'
SEED = 2024
BATCH = 8
SPEC = {'kind': 'recipe', 'resolution': 32, 'classes': 10, 'width': 32}
SGD = {'momentum': 0.9, 'nesterov': True, 'weightDecay': 5e-4, 'lrs': [0.02, 0.05, 0.03]}
ADAMW = {'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-8, 'weightDecay': 0.05, 'lrs': [1e-3, 2e-3, 1.5e-3]}
ONE_CYCLE = {'maxLr': 0.05, 'total': 20, 'pctStart': 0.25, 'divFactor': 25, 'finalDivFactor': 1e4}
STEP_LR = {'lr': 0.1, 'stepSize': 4, 'gamma': 0.5, 'total': 13}


# The builders mirror packages/nn/src/recipe.ts, so state_dict keys equal convoy's parameter names.
def conv3(c_in, c_out):
    return nn.Conv2d(c_in, c_out, 3, padding=1)


def block(c_in, c_out):
    return nn.Sequential(OrderedDict(
        conv1=conv3(c_in, c_out), relu1=nn.ReLU(), conv2=conv3(c_out, c_out), relu2=nn.ReLU(), pool=nn.MaxPool2d(2)))


def frontend(c_in, c_out):
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(c_in, c_out, 7, stride=2, padding=3), relu=nn.ReLU(), pool=nn.MaxPool2d(2)))


def recipe_net(resolution, classes, width, in_channels=3):
    layers = []
    side, channels = resolution, in_channels
    if resolution >= 100:
        layers.append(frontend(in_channels, width))
        side, channels = ((side + 6 - 7) // 2 + 1) // 2, width
    i = 0
    while side >= 7:
        out = min(width * 2 ** i, 512)
        layers.append(block(channels, out))
        channels, side, i = out, side // 2, i + 1
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers), pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), classifier=nn.Linear(channels, classes)))


def f32(values):
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def initialise_like_convoy(model, rng):
    """Same draws, order and float32 rounding as Module.initialize(new Rng(SEED))."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            if name.endswith('.weight'):
                fan_in = int(np.prod(p.shape[1:]))
                values = uniform_fill(p.numel(), kaiming_uniform_bound(fan_in), rng)
            else:
                fan_in = int(np.prod(params[name[: -len('bias')] + 'weight'].shape[1:]))
                values = uniform_fill(p.numel(), bias_uniform_bound(fan_in), rng)
            p.copy_(torch.from_numpy(f32(values).astype(np.float64).reshape(p.shape)))


class Quantised:
    """Appends tensors as int16 with a power-of-two scale chosen so max|x| / scale <= 32767."""

    def __init__(self):
        self.chunks = []
        self.offset = 0

    def add(self, values):
        x = np.asarray(values, dtype=np.float64).ravel()
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        exponent = math.ceil(math.log2(peak / 32767)) if peak > 0 else 0
        q = np.rint(x / 2.0 ** exponent).astype(np.int64)
        assert np.all(np.abs(q) <= 32767)
        error = np.max(np.abs(q * 2.0 ** exponent - x)) if x.size else 0.0
        assert error <= 2.0 ** -15 * peak + 1e-300, (error, peak)
        record = {'offset': self.offset, 'length': int(x.size), 'exponent': exponent}
        self.chunks.append(q.astype('<i2').tobytes())
        self.offset += x.size
        return record


def forward_backward(model, x, labels):
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    return logits.detach(), float(loss)


def run_optimizer(make_optimizer, lrs, model, x, labels, initial):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(initial[name])
    opt = make_optimizer(model.parameters())
    losses = []
    for lr in lrs:
        for group in opt.param_groups:
            group['lr'] = lr
        _, loss = forward_backward(model, x, labels)
        losses.append(loss)
        opt.step()
    deltas = {name: (p.detach() - initial[name]).numpy() for name, p in model.named_parameters()}
    return losses, deltas


def schedules():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=ONE_CYCLE['maxLr'], momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=ONE_CYCLE['maxLr'], total_steps=ONE_CYCLE['total'], pct_start=ONE_CYCLE['pctStart'],
        div_factor=ONE_CYCLE['divFactor'], final_div_factor=ONE_CYCLE['finalDivFactor'], anneal_strategy='cos')
    lrs, momenta = [], []
    for _ in range(ONE_CYCLE['total']):
        lrs.append(opt.param_groups[0]['lr'])
        momenta.append(opt.param_groups[0]['momentum'])
        opt.step()
        sched.step()
    opt2 = torch.optim.SGD([p], lr=STEP_LR['lr'])
    step_sched = torch.optim.lr_scheduler.StepLR(opt2, step_size=STEP_LR['stepSize'], gamma=STEP_LR['gamma'])
    step_lrs = []
    for _ in range(STEP_LR['total']):
        step_lrs.append(opt2.param_groups[0]['lr'])
        opt2.step()
        step_sched.step()
    return {'oneCycle': {**ONE_CYCLE, 'lrs': lrs, 'momenta': momenta}, 'step': {**STEP_LR, 'lrs': step_lrs}}


def main():
    torch.set_grad_enabled(True)
    model = recipe_net(SPEC['resolution'], SPEC['classes'], SPEC['width']).double()
    initialise_like_convoy(model, Rng(SEED))
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}

    # Input in [-2, 2) and labels, drawn by convoy's Rng so the TS test regenerates them exactly.
    input_rng = Rng.for_key(SEED, 1)
    r = SPEC['resolution']
    x = torch.from_numpy(f32([4 * input_rng.uniform() - 2 for _ in range(BATCH * 3 * r * r)]).astype(np.float64).reshape(BATCH, 3, r, r))
    label_rng = Rng.for_key(SEED, 2)
    labels_list = [label_rng.int(SPEC['classes']) for _ in range(BATCH)]
    labels = torch.tensor(labels_list)

    logits, loss = forward_backward(model, x, labels)
    grads = {name: p.grad.detach().numpy().copy() for name, p in model.named_parameters()}

    sgd_losses, sgd_deltas = run_optimizer(
        lambda ps: torch.optim.SGD(ps, lr=SGD['lrs'][0], momentum=SGD['momentum'], nesterov=SGD['nesterov'], weight_decay=SGD['weightDecay']),
        SGD['lrs'], model, x, labels, initial)
    adamw_losses, adamw_deltas = run_optimizer(
        lambda ps: torch.optim.AdamW(ps, lr=ADAMW['lrs'][0], betas=(ADAMW['beta1'], ADAMW['beta2']), eps=ADAMW['eps'], weight_decay=ADAMW['weightDecay']),
        ADAMW['lrs'], model, x, labels, initial)

    store = Quantised()
    parameters = []
    for name, p in model.named_parameters():
        parameters.append({
            'name': name,
            'shape': list(p.shape),
            # float64 sum of the float32 initial values: proves both sides regenerated the same weights
            'initialSum': float(initial[name].sum()),
            'initialFirst': float(initial[name].flatten()[0]),
            'grad': store.add(grads[name]),
            'sgdDelta': store.add(sgd_deltas[name]),
            'adamwDelta': store.add(adamw_deltas[name]),
        })
    index = {
        **provenance('reference for convoy recipeNet', 'make_fixtures.py'),
        'seed': SEED,
        'batch': BATCH,
        'spec': SPEC,
        'input': {'rng': 'Rng.forKey(seed, 1)', 'formula': '4 * uniform() - 2, rounded to float32, NCHW order'},
        'labels': {'rng': 'Rng.forKey(seed, 2)', 'formula': 'int(classes) per sample', 'values': labels_list},
        'weights': {'rng': 'new Rng(seed)', 'formula': 'Module.initialize: kaimingUniform/biasUniform in parameter order'},
        'parameterCount': sum(p.numel() for p in model.parameters()),
        'logits': logits.numpy().ravel().tolist(),
        'loss': loss,
        'sgd': {**SGD, 'losses': sgd_losses},
        'adamw': {**ADAMW, 'losses': adamw_losses},
        'schedules': schedules(),
        'data': {'file': NAME + '.i16.gz', 'format': 'gzip of int16 as two byte planes (all low bytes, then all high bytes); value = q * 2^exponent'},
        'parameters': parameters,
    }
    write_fixture(os.path.join(OUT_DIR, NAME + '.json'), index)
    # Byte planes (all low bytes, then all high bytes) compress about 10% better than interleaved int16.
    planes = np.frombuffer(b''.join(store.chunks), dtype=np.uint8).reshape(-1, 2).T.copy().tobytes()
    with gzip.GzipFile(os.path.join(OUT_DIR, NAME + '.i16.gz'), 'wb', compresslevel=9, mtime=0) as f:
        f.write(planes)
    sizes = {n: os.path.getsize(os.path.join(OUT_DIR, n)) for n in (NAME + '.json', NAME + '.i16.gz')}
    print('parameters', index['parameterCount'], 'loss', loss, 'files', sizes)


if __name__ == '__main__':
    main()
