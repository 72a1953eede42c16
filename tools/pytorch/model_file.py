#!/usr/bin/python3
"""Builds a torch.nn.Module from a convoy model file (the JSON `convoy train --model` reads), with
the same semantics as convoy's layers, so that PyTorch and convoy compute the same numbers:

- state_dict keys are convoy's parameter and buffer names: `layers.{i}.weight`, inside a residual
  `layers.{i}.layers.{j}.weight`, BatchNorm's `running_mean`, `running_var`, `num_batches_tracked`;
- `batchnorm2d` normalises over ghost groups of `groupSize` consecutive images of the batch (default
  32) and updates its running statistics once per group, in group order (GhostBatchNorm2d);
- `dropout` draws each image's mask from convoy's keyed Rng: Rng.for_key(seed, step, sample, key),
  `sample` the image's position in the global batch, `key` the FNV-1a hash of the layer's dotted
  name, one uniform per element (KeyedDropout); call `set_step_context(net, seed, step)` before
  each training forward;
- weights can be drawn as convoy draws them (`initialise_like_convoy(net, Rng(seed))`), including a
  layer's `init`: "identity" (dirac_ / eye_ on the first min(out, in) outputs, bias 0) and
  "whitening" (then `whiten_like_convoy(net, images)` sets the first conv's filters from the images'
  patch statistics);
- `frozen` parameters have requires_grad False (an optimizer built on the trainable ones leaves them);
- `batchnorm2d` with `"weight": false` is a BatchNorm2d without the affine scale and with its own
  trainable `bias` (state_dict: bias, running_mean, running_var, num_batches_tracked; no weight).

Usage as a library:  from model_file import build;  net = build(json.load(open('net.json')), classes=10)
Usage as a script:   /usr/bin/python3 tools/pytorch/model_file.py net.json --classes 10
                     (prints the module and its state_dict keys and shapes)
PyTorch is never a runtime dependency of convoy: this lives in tools/ only.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convoy_rng import Rng, bias_uniform_bound, kaiming_uniform_bound, uniform_fill  # noqa: E402

DEFAULT_GROUP_SIZE = 32


def layer_key(name):
    """FNV-1a (32 bit) of a dotted layer name, as @convoy/nn's layerKey."""
    h = 0x811C9DC5
    for ch in name:
        h ^= ord(ch) & 0xFF
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


class GhostBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training forward normalises each group of `group_size` images on its own
    and takes one running-statistics update per group, in order (the last group may be smaller)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, group_size=DEFAULT_GROUP_SIZE, weight=True):
        # "weight": false: no scale (PyTorch's affine=False), then a bias of its own, so the state_dict
        # holds exactly convoy's parameters. F.batch_norm takes a bias without a weight.
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine and weight)
        if affine and not weight:
            self.bias = nn.Parameter(torch.zeros(num_features))
        self.group_size = group_size

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        outs = []
        for group in torch.split(x, self.group_size, dim=0):
            outs.append(F.batch_norm(group, self.running_mean, self.running_var, self.weight, self.bias,
                                     True, self.momentum, self.eps))
            self.num_batches_tracked += 1
        return torch.cat(outs, dim=0)


class KeyedDropout(nn.Module):
    """Inverted dropout whose masks come from convoy's keyed Rng (see the module docstring)."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.key = None  # set by build(): layer_key(dotted name)
        self.context = None  # (seed, step, batch_offset), set by set_step_context

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.context is None:
            raise RuntimeError('KeyedDropout: call set_step_context(net, seed, step) before a training forward')
        seed, step, offset = self.context
        n = x.shape[0]
        per = x[0].numel()
        keep = 1 / (1 - self.p) if self.p < 1 else 0.0
        mask = np.empty((n, per), dtype=np.float64)
        for i in range(n):
            rng = Rng.for_key(seed, step, offset + i, self.key)
            mask[i] = [0.0 if rng.uniform() < self.p else keep for _ in range(per)]
        return x * torch.from_numpy(mask).to(x.dtype).reshape(x.shape)


class Residual(nn.Module):
    """output = input + layers(input)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.layers(x)


class Scale(nn.Module):
    def __init__(self, by):
        super().__init__()
        self.by = by

    def forward(self, x):
        return x * self.by


class Net(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def _configured(module, spec):
    """Records a layer's `init` for initialise_like_convoy and freezes its `frozen` parameters."""
    module.convoy_init = spec.get('init', 'default')
    frozen = spec.get('frozen', False)
    names = [n for n, _ in module.named_parameters()] if frozen is True else (frozen or [])
    for name, param in module.named_parameters():
        if name in names:
            param.requires_grad_(False)
    return module


def _build_layers(specs, shape, classes, path):
    """Layers for `specs` given the input shape (C, H, W) or (features,); returns (layers, shape)."""
    layers = []
    for i, spec in enumerate(specs):
        where = f'{path}[{i}]'
        kind = spec.get('type')
        if kind == 'conv2d':
            c, h, w = shape
            k, s, p = _pair(spec['kernel']), _pair(spec.get('stride', 1)), _pair(spec.get('padding', 0))
            layers.append(_configured(nn.Conv2d(c, spec['out'], k, stride=s, padding=p, bias=spec.get('bias', True)), spec))
            shape = (spec['out'], (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
        elif kind == 'batchnorm2d':
            layers.append(_configured(GhostBatchNorm2d(shape[0], eps=spec.get('eps', 1e-5), momentum=spec.get('momentum', 0.1),
                                                       affine=spec.get('affine', True), group_size=spec.get('groupSize', DEFAULT_GROUP_SIZE),
                                                       weight=spec.get('weight', True)), spec))
        elif kind == 'relu':
            layers.append(nn.ReLU())
        elif kind == 'gelu':
            layers.append(nn.GELU())
        elif kind in ('maxpool2d', 'avgpool2d'):
            c, h, w = shape
            k = _pair(spec['kernel'])
            s, p = _pair(spec.get('stride', spec['kernel'])), _pair(spec.get('padding', 0))
            layers.append(nn.MaxPool2d(k, s, p) if kind == 'maxpool2d' else nn.AvgPool2d(k, s, p))
            shape = (c, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
        elif kind == 'globalavgpool2d':
            layers.append(nn.AdaptiveAvgPool2d(1))
            shape = (shape[0], 1, 1)
        elif kind == 'globalmaxpool2d':
            layers.append(nn.AdaptiveMaxPool2d(1))
            shape = (shape[0], 1, 1)
        elif kind == 'flatten':
            layers.append(nn.Flatten())
            shape = (int(np.prod(shape)),)
        elif kind == 'linear':
            if len(shape) != 1:
                raise ValueError(f'{where}: linear needs a flat input (add a flatten), got shape {shape}')
            out = classes if spec['out'] == 'classes' else spec['out']
            if out is None:
                raise ValueError(f'{where}: linear out "classes" needs --classes')
            layers.append(_configured(nn.Linear(shape[0], out, bias=spec.get('bias', True)), spec))
            shape = (out,)
        elif kind == 'dropout':
            layers.append(KeyedDropout(spec.get('p', 0.5)))
        elif kind == 'scale':
            layers.append(Scale(spec['by']))
        elif kind == 'residual':
            body, out_shape = _build_layers(spec['layers'], shape, classes, f'{where}.layers')
            if tuple(out_shape) != tuple(shape):
                raise ValueError(f'{where}: residual body changes the shape {shape} -> {out_shape}')
            layers.append(Residual(body))
        else:
            raise ValueError(f'{where}: unknown layer type {kind!r}')
    return layers, shape


def build(model, classes=None):
    """A Net (float32; call .double() for float64) from a parsed model file."""
    inp = model['input']
    layers, _ = _build_layers(model['layers'], (inp['channels'], inp['resolution'], inp['resolution']), classes, 'layers')
    net = Net(layers)
    for name, module in net.named_modules():
        if isinstance(module, KeyedDropout):
            module.key = layer_key(name)
    return net


def set_step_context(net, seed, step, batch_offset=0):
    for module in net.modules():
        if isinstance(module, KeyedDropout):
            module.context = (seed, step, batch_offset)


def initialise_like_convoy(net, rng):
    """Same draws, order and float32 rounding as convoy's Module.initialize(rng): conv and linear
    weights kaiming-uniform, biases uniform(±1/sqrt(fan_in)), in parameter order; BatchNorm weight 1,
    bias 0 (no draws). A layer with init "identity" or "whitening" draws its weight only, then (as
    airbench's convs) dirac_ (conv) or eye_ (linear) on its first min(out, in) outputs, bias 0;
    whiten_like_convoy then sets a whitening layer's filters."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = int(np.prod(module.weight.shape[1:]))
                values = uniform_fill(module.weight.numel(), kaiming_uniform_bound(fan_in), rng)
                module.weight.copy_(torch.from_numpy(np.asarray(values, dtype=np.float32).astype(np.float64).reshape(module.weight.shape)))
                init = getattr(module, 'convoy_init', 'default')
                if init == 'default':
                    if module.bias is not None:
                        values = uniform_fill(module.bias.numel(), bias_uniform_bound(fan_in), rng)
                        module.bias.copy_(torch.from_numpy(np.asarray(values, dtype=np.float32).astype(np.float64)))
                    continue
                w = module.weight.data
                (nn.init.dirac_ if isinstance(module, nn.Conv2d) else nn.init.eye_)(w[:w.shape[1]])
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                if module.weight is not None:
                    module.weight.fill_(1)
                if module.bias is not None:
                    module.bias.fill_(0)


WHITENING_EPS = 5e-4


def whitening_filters(images, kernel, eps=WHITENING_EPS):
    """Airbench's whitening filters from images [N, C, H, W]: the eigenvectors of the uncentred
    covariance of all kernel-sized patches (float64), largest eigenvalue first, each with its
    largest-magnitude component positive (convoy's sign convention; eigh's signs are arbitrary),
    divided by sqrt(eigenvalue + eps), then their negatives: [2 C kh kw, C, kh, kw]."""
    kh, kw = kernel
    x = images.double()
    n, c = x.shape[0], x.shape[1]
    patches = x.unfold(2, kh, 1).unfold(3, kw, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)
    covariance = patches.T @ patches / patches.shape[0]
    values, vectors = torch.linalg.eigh(covariance)
    values, vectors = values.flip(0), vectors.T.flip(0)
    signs = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
    vectors = vectors * signs
    scaled = vectors / torch.sqrt(values.clamp(min=0) + eps)[:, None]
    return torch.cat((scaled, -scaled)).reshape(2 * c * kh * kw, c, kh, kw), covariance, values, vectors


def whiten_like_convoy(net, images):
    """Sets the first layer's filters, when its init is "whitening", from `images` as convoy does."""
    first = net.layers[0]
    if getattr(first, 'convoy_init', 'default') != 'whitening':
        return
    with torch.no_grad():
        filters = whitening_filters(images, first.weight.shape[2:])[0]
        first.weight.copy_(filters.to(torch.float32).to(first.weight.dtype))


def main():
    parser = argparse.ArgumentParser(description='Build the PyTorch module of a convoy model file and list its state_dict.')
    parser.add_argument('model', help='model file (JSON)')
    parser.add_argument('--classes', type=int, default=None, help='value of "classes" in linear layers')
    args = parser.parse_args()
    with open(args.model) as f:
        net = build(json.load(f), args.classes)
    print(net)
    for name, t in net.state_dict().items():
        print(name, list(t.shape))


if __name__ == '__main__':
    main()
