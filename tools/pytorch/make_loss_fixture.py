#!/usr/bin/python3
"""Writes packages/nn/test/fixtures/loss-label-smoothing.json: torch.nn.CrossEntropyLoss with label smoothing.

    /usr/bin/python3 tools/pytorch/make_loss_fixture.py

Logits [6, 5] in float64 (a fixed seed, spread so some rows are confident and some flat, one row
shifted by 1000 to exercise the max shift) and labels; for each eps in EPSILONS the loss with
reduction 'mean' and 'sum' and the gradient of the mean loss with respect to the logits.
packages/nn/test/loss.test.ts requires softmaxCrossEntropy(..., { labelSmoothing: eps }) to give
those numbers.
"""
import os

import torch

from fixture_file import provenance, write_fixture

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'nn', 'test', 'fixtures', 'loss-label-smoothing.json')
EPSILONS = [0.0, 0.1, 0.2, 0.5, 0.9]


def main():
    generator = torch.Generator().manual_seed(18)
    logits = torch.randn(6, 5, generator=generator, dtype=torch.float64) * torch.tensor([[0.5], [1.0], [2.0], [4.0], [1.0], [3.0]], dtype=torch.float64)
    logits[4] += 1000.0
    # convoy's logits are float32: the reference is computed in float64 on float32-representable values.
    logits = logits.float().double()
    labels = torch.tensor([0, 4, 2, 1, 3, 2])
    cases = []
    for eps in EPSILONS:
        x = logits.clone().requires_grad_(True)
        mean = torch.nn.CrossEntropyLoss(reduction='mean', label_smoothing=eps)(x, labels)
        mean.backward()
        total = torch.nn.CrossEntropyLoss(reduction='sum', label_smoothing=eps)(logits, labels)
        cases.append({'labelSmoothing': eps, 'mean': mean.item(), 'sum': total.item(), 'gradMean': x.grad.flatten().tolist()})
    fixture = provenance('torch.nn.CrossEntropyLoss(label_smoothing=eps), float64', 'make_loss_fixture.py')
    fixture.update({'shape': list(logits.shape), 'logits': logits.flatten().tolist(), 'labels': labels.tolist(), 'cases': cases})
    write_fixture(OUT, fixture)


if __name__ == '__main__':
    main()
