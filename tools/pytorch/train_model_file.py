#!/usr/bin/python3
"""Trains the PyTorch module of a convoy model file on CIFAR-10 with convoy's exact recipe, so that
its test accuracy can stand beside `convoy train --model FILE` for the same seed:

- the same initial weights: convoy's Rng(seed) draws, in parameter order (model_file.initialise_like_convoy);
- the same epoch order: a Fisher-Yates shuffle driven by Rng.for_key(seed, 0x53485546, epoch)
  (@convoy/data epochOrder), the last partial batch dropped;
- the same augmentation draws: per sample Rng.for_key(seed, epoch, sample) gives the crop's top
  and left offsets (uniform in -4..4 at 32) and the flip, applied as @convoy/data fillBatch does
  (black padding, the flip mirrors the cropped image); with --augmentation
  alternating-flip-translate, airbench94's: a once-per-run mirror from
  Rng.for_key(seed, FLIP_STREAM, sample), every odd epoch mirrored on top, and a shift of -2..2 on
  each axis from Rng.for_key(seed, epoch, sample) with reflected borders;
- the same normalisation: a float32 lookup table (byte/255 - mean[c]) / std[c] with CIFAR-10's
  standard statistics;
- the same loss (softmax cross-entropy, mean over the global batch, with --label-smoothing as
  CrossEntropyLoss's), optimizer (SGD, Nesterov, coupled weight decay, as torch.optim.SGD; with
  --batch-norm-lr-scale / --batch-norm-weight-decay the BatchNorm parameters are a parameter group
  of their own, as convoy's) and schedules: one-cycle learning rate and momentum per optimizer
  step, as torch's OneCycleLR, or with --schedule linear airbench94's warm-up and decay at a fixed
  momentum (the formulas of @convoy/nn, ported);
- a whitening first layer set from the first 5,000 images of epoch 0's order (normalised, not
  augmented), as convoy's pool does;
- with --whitening-bias-epochs n, the whitening layer's bias trains in the first n epochs only;
- with --lookahead k, airbench94's Lookahead over the state_dict's float tensors (a copy made
  after initialisation; every k steps ema.lerp_(net, 1 - d), net = ema, d = 0.95^k (t/total)^3, and
  net = ema after the last step), as convoy's --lookahead;
- BatchNorm over ghost groups of `groupSize` images (default 32) and dropout masks from convoy's
  keyed Rng (seed, step, sample, layer), both from model_file.py; the masks are drawn here with a
  vectorised port of the Rng (checked against the scalar port on the first mask it draws);
- evaluation after every epoch on the 10,000 test images, BatchNorm on running statistics, no dropout;
  with --tta, a last pass averaging the logits of the views convoy's --tta names, weighted as
  @convoy/nn ttaViews.

What still differs is float rounding (PyTorch's kernels sum in another order than convoy's), which
grows over training as in any two runs on different hardware, so the two runs' accuracies agree
statistically, not bit for bit. `--compare METRICS.jsonl` (a convoy run's metrics log) prints both
runs' step losses side by side.

Usage:
  /usr/bin/python3 tools/pytorch/train_model_file.py models/resnet9-half.json --epochs 2 --seed 1 \
      --log runs/pytorch-resnet9.jsonl
PyTorch is never a runtime dependency of convoy: this lives in tools/ only.
"""
import argparse
import json
import math
import os
import sys
import time

PROCESS_START = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convoy_rng import M32, Rng  # noqa: E402
from model_file import KeyedDropout, build, initialise_like_convoy, set_step_context, whiten_like_convoy  # noqa: E402

SHUFFLE_STREAM = 0x53485546  # @convoy/data batching.ts: keeps the shuffle apart from the augmentation streams
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.2435, 0.2616)
TRAIN_FILES = [f'data_batch_{i}.bin' for i in range(1, 6)]
TEST_FILES = ['test_batch.bin']
RECORD = 1 + 3 * 32 * 32
WHITENING_IMAGES = 5000  # @convoy/nn WHITENING_IMAGES
LOOKAHEAD_STEP_DECAY = 0.95  # @convoy/nn LOOKAHEAD_STEP_DECAY
FLIP_STREAM = 0x464C4950  # @convoy/data fillBatch: the once-per-run mirror draws
ALTERNATING_TRANSLATE = 2  # @convoy/data ALTERNATING_TRANSLATE
# @convoy/nn ttaViews: (flip, shift, weight) in the order the logits are summed
TTA_VIEWS = {
    'none': [(False, 0, 1.0)],
    'flip': [(False, 0, 0.5), (True, 0, 0.5)],
    'flip-translate': [(False, 0, 0.25), (True, 0, 0.25), (False, -1, 0.125), (True, -1, 0.125), (False, 1, 0.125), (True, 1, 0.125)],
}


def usage_error(message):
    print(f'train_model_file.py: {message}', file=sys.stderr)
    sys.exit(2)


def read_cifar10(data_dir, files):
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of the binary files, in file order."""
    parts = []
    for name in files:
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            usage_error(f'{path} not found: --data-dir (or $CIFAR10_DIR) must be the CIFAR-10 binary folder (cifar-10-batches-bin)')
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % RECORD != 0:
            usage_error(f'{path} has {raw.size} bytes, not a whole number of {RECORD}-byte CIFAR-10 records')
        parts.append(raw.reshape(-1, RECORD))
    raw = np.concatenate(parts)
    return raw[:, 1:].reshape(-1, 3, 32, 32).copy(), raw[:, 0].astype(np.int64)


def class_balanced(images, labels, limit):
    """@convoy/data subset(set, {limit}): the first floor(limit/k) images of each of the k classes in
    file order (the first limit mod k classes one more), kept in file order: --limit-train/--limit-test."""
    if limit is None:
        return images, labels
    classes = int(labels.max()) + 1
    quota = [limit // classes + (1 if c < limit % classes else 0) for c in range(classes)]
    available = np.bincount(labels, minlength=classes)
    if limit > len(labels) or any(q > a for q, a in zip(quota, available)):
        usage_error(f'a class-balanced limit of {limit} needs {max(quota)} images of every class; the set has {available.min()} of its rarest')
    taken = [0] * classes
    chosen = []
    for i, label in enumerate(labels.tolist()):
        if taken[label] < quota[label]:
            taken[label] += 1
            chosen.append(i)
    chosen = np.asarray(chosen, dtype=np.int64)
    return images[chosen], labels[chosen]


def normalisation_table(mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """[channels, 256] float32: byte -> (byte/255 - mean[c]) / std[c], computed in double and rounded
    once, as @convoy/data normalizationTable."""
    v = np.arange(256, dtype=np.float64)
    return np.stack([((v / 255 - m) / s) for m, s in zip(mean, std)]).astype(np.float32)


def epoch_order(count, seed, epoch):
    """@convoy/data epochOrder: Fisher-Yates over 0..count-1 with Rng.for_key(seed, SHUFFLE_STREAM, epoch)."""
    order = list(range(count))
    rng = Rng.for_key(seed, SHUFFLE_STREAM, epoch)
    for i in range(count - 1, 0, -1):
        j = rng.int(i + 1)
        order[i], order[j] = order[j], order[i]
    return np.asarray(order, dtype=np.int64)


def fill_batch(images, labels, indices, table, augment, seed, epoch):
    """@convoy/data fillBatch: normalised float32 NCHW rows for `indices`; with `augment`, the crop
    offsets and the flip of Rng.for_key(seed, epoch, sample)."""
    normalised = np.stack([table[c][images[indices, c]] for c in range(images.shape[1])], axis=1)
    if not augment:
        return torch.from_numpy(normalised), torch.from_numpy(labels[indices])
    n, channels, height, width = normalised.shape
    pad = min(height, width) // 8
    padded = np.empty((n, channels, height + 2 * pad, width + 2 * pad), dtype=np.float32)
    padded[:] = table[:, 0].reshape(1, channels, 1, 1)  # byte 0 (black), normalised
    padded[:, :, pad:pad + height, pad:pad + width] = normalised
    out = np.empty_like(normalised)
    for row, sample in enumerate(indices):
        rng = Rng.for_key(seed, epoch, int(sample))
        dy = rng.int(2 * pad + 1) - pad
        dx = rng.int(2 * pad + 1) - pad
        flip = rng.int(2) == 1
        crop = padded[row, :, pad + dy:pad + dy + height, pad + dx:pad + dx + width]
        # flipped: output column x takes source column W-1-x+dx, i.e. the same crop mirrored
        out[row] = crop[:, :, ::-1] if flip else crop
    return torch.from_numpy(out), torch.from_numpy(labels[indices])


def once_per_run_mirrors(count, seed):
    """'alternating-flip-translate': whether each sample is mirrored for the whole run."""
    return np.asarray([Rng.for_key(seed, FLIP_STREAM, i).int(2) == 1 for i in range(count)])


def fill_batch_alternating(images, labels, indices, table, seed, epoch, mirrors):
    """@convoy/data fillBatch under 'alternating-flip-translate': output (y, x) is the sample's
    mirrored-or-not image at (reflect(y + dy), reflect(x' + dx)), x' = W-1-x on odd epochs."""
    normalised = np.stack([table[c][images[indices, c]] for c in range(images.shape[1])], axis=1)
    t = ALTERNATING_TRANSLATE
    padded = np.pad(normalised, ((0, 0), (0, 0), (t, t), (t, t)), mode='reflect')  # PyTorch's 'reflect': no repeated edge
    height, width = normalised.shape[2:]
    out = np.empty_like(normalised)
    for row, sample in enumerate(indices):
        shifts = Rng.for_key(seed, epoch, int(sample))
        dy = shifts.int(2 * t + 1) - t
        dx = shifts.int(2 * t + 1) - t
        source = padded[row, :, :, ::-1] if mirrors[sample] else padded[row]  # reflect padding commutes with the mirror
        view = source[:, t + dy:t + dy + height, t + dx:t + dx + width]
        out[row] = view[:, :, ::-1] if epoch % 2 == 1 else view
    return torch.from_numpy(out), torch.from_numpy(labels[indices])


def reflect_indices(size, shift, flip):
    """Source index of each output index: (size-1-i if flip else i) + shift, reflected into [0, size)."""
    i = np.arange(size)
    i = (size - 1 - i if flip else i) + shift
    return np.where(i < 0, -i, np.where(i >= size, 2 * (size - 1) - i, i))


def linear_lr(lr, total, warmup_steps, start=0.2, end=0.07):
    """@convoy/nn linearSchedule (airbench94's): start x lr rising to lr at step warmup_steps, then
    falling to end x lr at step total."""
    def at(step):
        if step < warmup_steps:
            f = step / warmup_steps
            return lr * (start * (1 - f) + f)
        f = min(1, (step - warmup_steps) / (total - warmup_steps))
        return lr * ((1 - f) + end * f)
    return at


# ---- the one-cycle schedules of @convoy/nn (torch's OneCycleLR, anneal_strategy='cos'), ported ----

def _one_cycle(total, pct_start, low, peak, final):
    phases = [(pct_start * total - 1, low, peak), (total - 1, peak, final)]

    def at(step):
        start_step = 0
        for i, (end_step, start, end) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
            start_step = end_step
        raise AssertionError('unreachable')
    return at


def one_cycle_lr(max_lr, total, pct_start=0.3, div_factor=25, final_div_factor=1e4):
    initial = max_lr / div_factor
    return _one_cycle(total, pct_start, initial, max_lr, initial / final_div_factor)


def one_cycle_momentum(total, pct_start, base, top):
    return _one_cycle(total, pct_start, top, base, top)


def lookahead_decays(step, every, total):
    """@convoy/nn lookaheadSchedule: the decays of the syncs after 0-based step `step`."""
    taken = step + 1
    decays = [LOOKAHEAD_STEP_DECAY ** every * (taken / total) ** 3] if taken % every == 0 else []
    if taken == total:
        decays.append(1.0)
    return decays


class Lookahead:
    """airbench94's LookaheadState: a copy of the state_dict; a sync moves each float tensor of the
    copy toward the network (lerp) and copies it back (integer counts are left alone)."""

    def __init__(self, net):
        self.slow = {k: v.clone() for k, v in net.state_dict().items()}

    def sync(self, net, decay):
        for slow, fast in zip(self.slow.values(), net.state_dict().values()):
            if fast.dtype in (torch.half, torch.float):
                slow.lerp_(fast, 1 - decay)
                fast.copy_(slow)


def parameter_groups(net, weight_decay, bn_lr_scale, bn_weight_decay):
    """The trainable parameters as torch.optim.SGD's groups: every one alike, or with a BatchNorm group
    (lr x bn_lr_scale, its own weight decay) when either option differs from its default."""
    trainable = [(name, p) for name, p in net.named_parameters() if p.requires_grad]
    if bn_lr_scale == 1 and bn_weight_decay is None:
        return [{'params': [p for _, p in trainable], 'weight_decay': weight_decay, 'lr_scale': 1.0}]
    norm = {id(p) for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters(recurse=False)}
    return [{'params': [p for _, p in trainable if id(p) not in norm], 'weight_decay': weight_decay, 'lr_scale': 1.0},
            {'params': [p for _, p in trainable if id(p) in norm], 'weight_decay': weight_decay if bn_weight_decay is None else bn_weight_decay,
             'lr_scale': bn_lr_scale}]


# ---- dropout masks from convoy's keyed Rng, vectorised over the batch's images ----

def _np_rotl(x, k):
    return ((x << np.uint64(k)) | (x >> np.uint64(32 - k))) & np.uint64(M32)


def _np_imul(a, b):
    return (a * np.uint64(b)) & np.uint64(M32)


def _np_fmix32(h):
    h = h ^ (h >> np.uint64(16))
    h = _np_imul(h, 0x85EBCA6B)
    h = h ^ (h >> np.uint64(13))
    h = _np_imul(h, 0xC2B2AE35)
    return h ^ (h >> np.uint64(16))


def _np_hash_words(words, lane, n):
    h = np.full(n, (0x9E3779B9 + ((lane * 0x7F4A7C15) & M32)) & M32, dtype=np.uint64)
    h = _np_fmix32(h)
    for w in words:
        k = _np_imul(w, 0xCC9E2D51)
        k = _np_rotl(k, 15)
        k = _np_imul(k, 0x1B873593)
        h = h ^ k
        h = _np_rotl(h, 13)
        h = (_np_imul(h, 5) + np.uint64(0xE6546B64)) & np.uint64(M32)
    h = h ^ np.uint64((len(words) * 4) & M32)
    return _np_fmix32(h)


def keyed_uniforms(seed, step, samples, key, count):
    """[len(samples), count] float64: the first `count` uniforms of Rng.for_key(seed, step, sample, key)
    for each sample, as convoy_rng.Rng draws them one image at a time."""
    samples = np.asarray(samples, dtype=np.uint64)
    n = samples.size

    def word_pair(value):
        return [np.full(n, value & M32, dtype=np.uint64), np.full(n, (value // 2**32) & M32, dtype=np.uint64)]
    words = word_pair(seed) + word_pair(step) + [samples & np.uint64(M32), samples >> np.uint64(32)] + word_pair(key)
    s0, s1, s2, s3 = (_np_hash_words(words, lane, n) for lane in range(4))
    zero = (s0 == 0) & (s1 == 0) & (s2 == 0) & (s3 == 0)
    s0 = np.where(zero, np.uint64(1), s0)
    mask32 = np.uint64(M32)
    out = np.empty((n, count), dtype=np.float64)
    draws = np.empty((2, n), dtype=np.uint64)
    for j in range(count):
        for d in range(2):
            draws[d] = _np_imul(_np_rotl(_np_imul(s1, 5), 7), 9)
            t = (s1 << np.uint64(9)) & mask32
            s2 = s2 ^ s0
            s3 = s3 ^ s1
            s1 = s1 ^ s2
            s0 = s0 ^ s3
            s2 = s2 ^ t
            s3 = _np_rotl(s3, 11)
        out[:, j] = ((draws[0] >> np.uint64(5)).astype(np.float64) * 67108864 + (draws[1] >> np.uint64(6)).astype(np.float64)) / 9007199254740992
    return out


class FastKeyedDropout(KeyedDropout):
    """KeyedDropout with the same masks, drawn by keyed_uniforms (numpy over the images) instead of one Python Rng per image."""
    checked = False

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        seed, step, offset = self.context
        n, per = x.shape[0], x[0].numel()
        u = keyed_uniforms(seed, step, np.arange(offset, offset + n), self.key, per)
        if not FastKeyedDropout.checked:
            rng = Rng.for_key(seed, step, offset, self.key)
            if any(rng.uniform() != u[0, j] for j in range(per)):
                raise AssertionError('keyed_uniforms disagrees with convoy_rng.Rng: the vectorised Rng port is wrong')
            FastKeyedDropout.checked = True
        keep = 1 / (1 - self.p) if self.p < 1 else 0.0
        mask = np.where(u < self.p, 0.0, keep).astype(np.float32)
        return x * torch.from_numpy(mask).reshape(x.shape)


def use_fast_dropout(net):
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is KeyedDropout:
                fast = FastKeyedDropout(child.p)
                fast.key = child.key
                setattr(parent, name, fast)


# ---- training ----

def evaluate(net, images, labels, table, batch, memory_format, tta='none'):
    """Test accuracy and mean loss; with `tta`, of the logits averaged over its views (summed in
    double in @convoy/nn ttaViews' order, then rounded to float32, as convoy's ttaLogits)."""
    net.eval()
    correct = 0
    loss_sum = 0.0
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            idx = np.arange(start, min(len(labels), start + batch))
            x, y = fill_batch(images, labels, idx, table, False, 0, 0)
            total = None
            for flip, shift, weight in TTA_VIEWS[tta]:
                view = x
                if flip or shift:
                    view = x[:, :, reflect_indices(x.shape[2], shift, False)][:, :, :, reflect_indices(x.shape[3], shift, flip)]
                logits = net(view.contiguous(memory_format=memory_format)).double() * weight
                total = logits if total is None else total + logits
            logits = total.float()
            loss_sum += F.cross_entropy(logits, y, reduction='sum').item()
            correct += (logits.argmax(1) == y).sum().item()
    net.train()
    return correct / len(labels), loss_sum / len(labels)


def read_convoy_losses(path):
    losses = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if record.get('type') == 'step':
                losses[record['step']] = record['loss']  # step = steps taken after this one (1-based)
    return losses


def main():
    parser = argparse.ArgumentParser(
        description="Train the PyTorch module of a convoy model file on CIFAR-10 with convoy's recipe, data order, "
                    'augmentation draws and initial weights (the defaults of `convoy train`), and print its test accuracy.')
    parser.add_argument('model', help='convoy model file (JSON), e.g. models/resnet9-half.json')
    parser.add_argument('--data-dir', default=os.environ.get('CIFAR10_DIR'),
                        help='CIFAR-10 binary folder (cifar-10-batches-bin); default $CIFAR10_DIR')
    parser.add_argument('--epochs', type=int, default=15, help='epochs; the schedule spans them (default 15, as convoy train)')
    parser.add_argument('--batch-size', type=int, default=128, help='global batch (default 128)')
    parser.add_argument('--lr', type=float, default=0.05, help='one-cycle peak learning rate (default 0.05)')
    parser.add_argument('--momentum', type=float, default=0.9, help='SGD momentum, cycled -/+ 0.05 under onecycle (default 0.9)')
    parser.add_argument('--weight-decay', type=float, default=5e-4, help='coupled weight decay (default 5e-4)')
    parser.add_argument('--schedule', choices=['onecycle', 'linear'], default='onecycle',
                        help="learning-rate schedule: onecycle (momentum cycled) or linear (airbench94's, momentum fixed) (default onecycle)")
    parser.add_argument('--warmup', type=float, default=0.3, help="fraction of the steps spent warming up: one-cycle's pct_start (default 0.3)")
    parser.add_argument('--augmentation', choices=['crop-flip', 'alternating-flip-translate'], default='crop-flip',
                        help='training augmentation, as convoy train --augmentation (default crop-flip)')
    parser.add_argument('--tta', choices=list(TTA_VIEWS), default='none',
                        help='test-time augmentation of a last test pass after training, as convoy train --tta (default none)')
    parser.add_argument('--label-smoothing', type=float, default=0.0, help="the training loss's label smoothing, in [0, 1) (default 0)")
    parser.add_argument('--batch-norm-lr-scale', type=float, default=1.0, help="the BatchNorm parameters' lr as a multiple of the schedule's (default 1)")
    parser.add_argument('--batch-norm-weight-decay', type=float, default=None, help="the BatchNorm parameters' weight decay (default: --weight-decay)")
    parser.add_argument('--lookahead', type=int, default=0, help="Lookahead every k steps, as convoy train --lookahead (default 0: off)")
    parser.add_argument('--whitening-bias-epochs', type=int, default=None, help="train a whitening first layer's bias for the first n epochs only, as convoy train --whitening-bias-epochs (default: always)")
    parser.add_argument('--save-state', default=None, help='write the final state_dict (parameters and buffers) here as JSON {name: flat list}')
    parser.add_argument('--seed', type=int, default=1, help='seed of initialisation, order, augmentation, dropout (default 1)')
    parser.add_argument('--no-augment', dest='augment', action='store_false', help='train without crop and flip')
    parser.add_argument('--limit-train', type=int, default=None, help='train on a class-balanced subset of n images, as convoy train --limit-train (default: all 50,000)')
    parser.add_argument('--limit-test', type=int, default=None, help='evaluate on a class-balanced subset of n test images, as convoy train --limit-test (default: all 10,000)')
    parser.add_argument('--max-steps', type=int, default=None, help='stop after this many steps (the schedule still spans --epochs)')
    parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1)')
    parser.add_argument('--channels-last', action='store_true', help='run in channels-last memory format (faster for some networks; same numbers up to rounding)')
    parser.add_argument('--log', default=None, help='write a JSONL log (step losses, epoch accuracies) here')
    parser.add_argument('--compare', default=None, help="a convoy run's metrics.jsonl: print its step losses beside these")
    parser.add_argument('--progress-every', type=int, default=50, help='print a progress line every N steps (default 50)')
    args = parser.parse_args()

    if not args.data_dir:
        usage_error('no CIFAR-10: pass --data-dir or set CIFAR10_DIR to the cifar-10-batches-bin folder')
    for name, value in (('--epochs', args.epochs), ('--batch-size', args.batch_size), ('--threads', args.threads)):
        if value < 1:
            usage_error(f'{name} must be a positive integer, got {value}')
    for name, value in (('--max-steps', args.max_steps), ('--limit-train', args.limit_train), ('--limit-test', args.limit_test)):
        if value is not None and value < 1:
            usage_error(f'{name} must be a positive integer, got {value}')
    if not 0 <= args.label_smoothing < 1:
        usage_error(f'--label-smoothing must be in [0, 1), got {args.label_smoothing}')
    if not args.batch_norm_lr_scale > 0:
        usage_error(f'--batch-norm-lr-scale must be > 0, got {args.batch_norm_lr_scale}')
    if args.batch_norm_weight_decay is not None and not args.batch_norm_weight_decay >= 0:
        usage_error(f'--batch-norm-weight-decay must be >= 0, got {args.batch_norm_weight_decay}')
    if args.whitening_bias_epochs is not None and args.whitening_bias_epochs < 0:
        usage_error(f'--whitening-bias-epochs must be a whole number >= 0, got {args.whitening_bias_epochs}')
    if args.lookahead < 0:
        usage_error(f'--lookahead must be a whole number >= 0, got {args.lookahead}')
    try:
        with open(args.model) as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        usage_error(f'cannot read the model file {args.model}: {err}')
    if spec.get('input', {}).get('channels') != 3 or spec.get('input', {}).get('resolution') != 32:
        usage_error(f"{args.model}: CIFAR-10 needs input {{channels: 3, resolution: 32}}, the file says {spec.get('input')}")

    torch.set_num_threads(args.threads)
    train_images, train_labels = read_cifar10(args.data_dir, TRAIN_FILES)
    test_images, test_labels = read_cifar10(args.data_dir, TEST_FILES)
    train_images, train_labels = class_balanced(train_images, train_labels, args.limit_train)
    test_images, test_labels = class_balanced(test_images, test_labels, args.limit_test)
    table = normalisation_table()

    net = build(spec, classes=10)
    initialise_like_convoy(net, Rng(args.seed))
    first = epoch_order(len(train_labels), args.seed, 0)[:WHITENING_IMAGES]
    whiten_like_convoy(net, fill_batch(train_images, train_labels, first, table, False, 0, 0)[0])
    use_fast_dropout(net)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    net.train()

    steps_per_epoch = len(train_labels) // args.batch_size
    total = args.epochs * steps_per_epoch
    if args.schedule == 'linear':
        lr_at = linear_lr(args.lr, total, math.floor(args.warmup * total))
        momentum_at = lambda step: args.momentum  # noqa: E731
    else:
        lr_at = one_cycle_lr(args.lr, total, args.warmup)
        momentum_at = one_cycle_momentum(total, args.warmup, args.momentum - 0.05, args.momentum + 0.05)
    mirrors = once_per_run_mirrors(len(train_labels), args.seed) if args.augmentation == 'alternating-flip-translate' else None
    groups = parameter_groups(net, args.weight_decay, args.batch_norm_lr_scale, args.batch_norm_weight_decay)
    optimizer = torch.optim.SGD(groups, lr=lr_at(0), momentum=momentum_at(0), nesterov=True)
    lookahead = Lookahead(net) if args.lookahead > 0 else None

    log = open(args.log + '.tmp', 'w') if args.log else None

    def write(record):
        if log:
            log.write(json.dumps(record) + '\n')
            log.flush()

    convoy_losses = read_convoy_losses(args.compare) if args.compare else None
    params = sum(p.numel() for p in net.parameters())
    print(f'pytorch {torch.__version__}: {args.model}, {params} parameters, {len(train_labels)} training images, {len(test_labels)} test images, '
          f'{steps_per_epoch} steps/epoch of {args.batch_size}, {args.epochs} epoch(s), seed {args.seed}, {args.threads} thread(s)', flush=True)
    write({'type': 'start', 'model': args.model, 'config': vars(args), 'parameters': params, 'torch': torch.__version__,
           'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})

    step = 0
    started = time.time()
    finished = True
    for epoch in range(args.epochs):
        order = epoch_order(len(train_labels), args.seed, epoch)
        if args.whitening_bias_epochs is not None:
            # airbench's whiten_bias_epochs: without a gradient the bias gets no step, decay or momentum
            whitening = net.layers[0]
            if getattr(whitening, 'convoy_init', 'default') != 'whitening' or whitening.bias is None:
                usage_error('--whitening-bias-epochs needs a first layer with "init": "whitening" and a bias')
            whitening.bias.requires_grad_(epoch < args.whitening_bias_epochs)
        epoch_start = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            if args.max_steps is not None and step >= args.max_steps:
                finished = False
                break
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            if args.augment and mirrors is not None:
                x, y = fill_batch_alternating(train_images, train_labels, idx, table, args.seed, epoch, mirrors)
            else:
                x, y = fill_batch(train_images, train_labels, idx, table, args.augment, args.seed, epoch)
            lr, momentum = lr_at(step), momentum_at(step)
            for group in optimizer.param_groups:
                group['lr'] = lr * group['lr_scale']
                group['momentum'] = momentum
            set_step_context(net, args.seed, step)
            logits = net(x.contiguous(memory_format=memory_format))
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            if not torch.isfinite(loss):
                print(f'step {step + 1}: the loss is {loss.item()}: training diverged', file=sys.stderr)
                sys.exit(1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if lookahead is not None:
                with torch.no_grad():
                    for decay in lookahead_decays(step, args.lookahead, total):
                        lookahead.sync(net, decay)
            step += 1
            value = loss.item()
            loss_sum += value * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            write({'type': 'step', 'step': step, 'epoch': epoch + 1, 'loss': value, 'lr': lr})
            if convoy_losses is not None and step in convoy_losses:
                c = convoy_losses[step]
                print(f'step {step:5d}  lr {lr:.6f}  pytorch {value:.6f}  convoy {c:.6f}  diff {value - c:+.2e}', flush=True)
            elif step % args.progress_every == 0:
                rate = seen / (time.time() - epoch_start)
                print(f'epoch {epoch + 1} step {b + 1}/{steps_per_epoch}  loss {value:.4f}  lr {lr:.5f}  {rate:.1f} images/s', flush=True)
        if seen == 0 or not finished:
            break  # stopped by --max-steps inside the epoch: no test pass, as convoy train
        train_seconds = time.time() - epoch_start
        accuracy, test_loss = evaluate(net, test_images, test_labels, table, 500, memory_format)
        record = {'type': 'epoch', 'epoch': epoch + 1, 'steps': step, 'trainLoss': loss_sum / seen, 'trainAccuracy': correct / seen,
                  'testLoss': test_loss, 'testAccuracy': accuracy, 'trainSeconds': train_seconds, 'complete': seen == steps_per_epoch * args.batch_size}
        write(record)
        print(f'epoch {epoch + 1}: train loss {loss_sum / seen:.4f}, train acc {100 * correct / seen:.2f}%, '
              f'test loss {test_loss:.4f}, test acc {100 * accuracy:.2f}% ({train_seconds:.0f} s training)', flush=True)
    end = {'type': 'end', 'steps': step, 'completed': finished}
    if finished and args.tta != 'none':
        tta_start = time.time()
        tta_accuracy, tta_loss = evaluate(net, test_images, test_labels, table, 500, memory_format, args.tta)
        end.update(tta=args.tta, ttaAccuracy=tta_accuracy, ttaLoss=tta_loss, ttaSeconds=time.time() - tta_start)
        print(f'test-time augmentation {args.tta}: test acc {100 * tta_accuracy:.2f}%, test loss {tta_loss:.4f} '
              f'({time.time() - tta_start:.0f} s)', flush=True)
    wall = time.time() - started
    end.update(wallSeconds=wall, processSeconds=time.time() - PROCESS_START)
    write(end)
    print(f'{"completed" if finished else "stopped at --max-steps"}: {step} steps in {wall:.0f} s '
          f'({end["processSeconds"]:.0f} s since the process started)', flush=True)
    if log:
        log.close()
        os.replace(args.log + '.tmp', args.log)
    if args.save_state:
        state = {name: t.detach().double().flatten().tolist() for name, t in net.state_dict().items()}
        with open(args.save_state + '.tmp', 'w') as f:
            json.dump(state, f)
        os.replace(args.save_state + '.tmp', args.save_state)


if __name__ == '__main__':
    main()
