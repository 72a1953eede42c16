#!/usr/bin/python3
"""Training-step throughput of the recipe network (or of a model file's network) in PyTorch: the yardstick convoy is measured against.

Run with Debian's PyTorch (see README.md):

    /usr/bin/python3 tools/pytorch/step_benchmark.py --resolution 32 --width 32 --batch 128 --threads 1

One step is what convoy's trainer does per batch: forward, softmax cross-entropy (mean), backward,
SGD with Nesterov momentum 0.9 and weight decay 5e-4, on a fixed random float32 batch (NCHW, as
convoy). After `--warmup` untimed steps it times steps until both `--min-steps` and `--seconds` are
reached and prints one JSON line on stdout: the median step's images/s (by wall time and by process
CPU time), plus the settings, the torch version and the CPU capability PyTorch dispatches to.
`--memory-format channels_last` runs model and batch in NHWC, often PyTorch's faster layout on a CPU.
`--model FILE` times that model file's network instead (built by model_file.py as convoy builds it:
its BatchNorm normalises each ghost group of images on its own, one F.batch_norm per group).
"""
import argparse
import json
import os
import re
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import recipe_net  # noqa: E402  (the builders that mirror packages/nn/src/recipe.ts)
import model_file  # noqa: E402  (layer lists, as packages/nn builds them)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text}')
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description='PyTorch training-step images/s of the convoy recipe network.')
    parser.add_argument('--resolution', type=positive_int, default=32, help='input side R (default 32; the 7x7 front end from 100 up)')
    parser.add_argument('--width', type=positive_int, default=32, help='feature maps of the first block (default 32)')
    parser.add_argument('--classes', type=positive_int, default=10, help='classifier outputs (default 10)')
    parser.add_argument('--batch', type=positive_int, default=128, help='images per step (default 128)')
    parser.add_argument('--threads', type=positive_int, default=1, help='torch.set_num_threads (default 1)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first (default 2)')
    parser.add_argument('--min-steps', type=positive_int, default=5, help='timed steps at least (default 5)')
    parser.add_argument('--seconds', type=float, default=3.0, help='time budget for the timed steps (default 3)')
    parser.add_argument('--seed', type=int, default=1, help='torch.manual_seed (default 1)')
    parser.add_argument('--memory-format', choices=['nchw', 'channels_last'], default='nchw',
                        help='layout of the model and batch: nchw (torch.contiguous_format, default) or channels_last (NHWC, often faster for oneDNN)')
    parser.add_argument('--model', help='a model file (JSON layer list, see models/) to time instead of the recipe; --width is then unused')
    args = parser.parse_args(argv)
    if args.resolution < 8:
        parser.error(f'--resolution must be at least 8, got {args.resolution}')
    return args


def cpu_capability():
    """The vector ISA PyTorch's own CPU kernels dispatch to (oneDNN picks its own, up to AVX-512)."""
    match = re.search(r'CPU capability usage: (\S+)', torch.__config__.show())
    return match.group(1) if match else None


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.model:
        with open(args.model, encoding='utf-8') as f:
            spec = json.load(f)
        side = spec['input']['resolution']
        if side != args.resolution:
            sys.exit(f'{args.model} takes {side}x{side} images; pass --resolution {side}')
        model = model_file.build(spec, args.classes)
        channels = spec['input']['channels']
    else:
        model = recipe_net(args.resolution, args.classes, args.width)
        channels = 3
    if args.memory_format == 'channels_last':
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.randn(args.batch, channels, args.resolution, args.resolution)
    if args.memory_format == 'channels_last':
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.arange(args.batch) % args.classes

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    times = []
    cpu_times = []
    start = time.perf_counter()
    while len(times) < args.min_steps or (time.perf_counter() - start < args.seconds and len(times) < 500):
        t0 = time.perf_counter()
        c0 = time.process_time()
        step()
        cpu_times.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    cpu_seconds = statistics.median(cpu_times)
    print(json.dumps({
        'framework': 'pytorch',
        'torch': torch.__version__,
        'cpuCapability': cpu_capability(),
        'resolution': args.resolution,
        'width': None if args.model else args.width,
        'model': args.model,
        'batch': args.batch,
        'memoryFormat': args.memory_format,
        'threads': torch.get_num_threads(),
        'steps': len(times),
        'secondsPerStep': seconds,
        'imagesPerSecond': args.batch / seconds,
        # Process CPU time (all threads): on a shared machine this is closer to what uncontended
        # cores give; with one thread it is comparable to convoy's single-thread CPU-time figure.
        'cpuSecondsPerStep': cpu_seconds,
        'imagesPerCpuSecond': args.batch / cpu_seconds,
    }))


if __name__ == '__main__':
    main(sys.argv[1:])
