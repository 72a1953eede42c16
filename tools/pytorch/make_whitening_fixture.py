#!/usr/bin/python3
"""Writes the PyTorch reference for convoy's whitening layer on real CIFAR-10 patches:
packages/nn/test/fixtures/whitening-cifar.json (a few kB), checked by packages/nn/test/whitening.test.ts.

From the first IMAGES training images of data_batch_1.bin (normalised as convoy normalises CIFAR-10:
a float32 table of (p/255 - mean)/std), it stores the uncentred covariance of all 2x2 patches
(float64), torch.linalg.eigh's eigenvalues (largest first) and eigenvectors (each with its
largest-magnitude component positive, convoy's sign convention), and the 24 whitening filters
(model_file.whitening_filters). The test runs convoy's Jacobi solver on the stored covariance, and,
when CIFAR10_DIR is set, convoy's patch covariance on the same images.

Run:  CIFAR10_DIR=/path/to/cifar-10-batches-bin /usr/bin/python3 tools/pytorch/make_whitening_fixture.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_file import write_fixture  # noqa: E402
from model_file import WHITENING_EPS, whitening_filters  # noqa: E402

IMAGES = 500
KERNEL = (2, 2)
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.247, 0.2435, 0.2616]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'nn', 'test', 'fixtures', 'whitening-cifar.json')


def main():
    data_dir = os.environ.get('CIFAR10_DIR')
    if not data_dir:
        sys.exit('set CIFAR10_DIR to the cifar-10-batches-bin folder')
    raw = np.fromfile(os.path.join(data_dir, 'data_batch_1.bin'), dtype=np.uint8, count=IMAGES * 3073).reshape(IMAGES, 3073)
    pixels = raw[:, 1:].reshape(IMAGES, 3, 32, 32)
    table = np.array([[(v / 255 - MEAN[c]) / STD[c] for v in range(256)] for c in range(3)], dtype=np.float32)
    images = torch.from_numpy(np.stack([table[c][pixels[:, c]] for c in range(3)], axis=1))
    filters, covariance, values, vectors = whitening_filters(images, KERNEL, WHITENING_EPS)
    out = {
        'description': 'PyTorch %s torch.linalg.eigh of the 2x2 patch covariance of the first %d CIFAR-10 training images (data_batch_1.bin); '
                       'regenerate with tools/pytorch/make_whitening_fixture.py' % (torch.__version__, IMAGES),
        'images': IMAGES, 'kernel': list(KERNEL), 'eps': WHITENING_EPS, 'normalization': {'mean': MEAN, 'std': STD},
        'covariance': covariance.reshape(-1).tolist(),
        'eigenvalues': values.tolist(),
        'eigenvectors': vectors.reshape(-1).tolist(),
        'filters': filters.reshape(-1).tolist(),
    }
    write_fixture(OUT, out, compact=True)
    print(f'wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes); eigenvalues {values[0]:.4g} .. {values[-1]:.4g}')


if __name__ == '__main__':
    main()
