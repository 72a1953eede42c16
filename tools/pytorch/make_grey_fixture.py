#!/usr/bin/python3
"""Writes packages/data/test/fixtures/grey-pil.{png,json}: PIL's `convert('L')` of a colour PNG.

    /usr/bin/python3 tools/pytorch/make_grey_fixture.py

The PNG is 24 x 24 RGB, every pixel an arbitrary colour (a fixed linear congruential stream, so
the sums of the luma formula hit every rounding case), plus a few pure and grey pixels. The JSON
holds PIL's grey bytes of it, row-major (hex). packages/data/test/greyDecode.test.ts requires
`decodeImage(png, 24, name, { channels: 1 })` to give exactly those bytes: convoy's grey is the grey
a PyTorch user gets from PIL (`Image.open(f).convert('L')`, torchvision's `Grayscale`).
"""
import json
import os

from PIL import Image

SIDE = 24
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'data', 'test', 'fixtures')


def pixels():
    state = 12345
    values = []
    for _ in range(SIDE * SIDE * 3):
        state = (state * 1103515245 + 12345) % (1 << 31)
        values.append((state >> 16) & 255)
    fixed = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (1, 2, 3), (254, 253, 252)]
    for i, rgb in enumerate(fixed):
        values[3 * i:3 * i + 3] = rgb
    return bytes(values)


def main():
    image = Image.frombytes('RGB', (SIDE, SIDE), pixels())
    png = os.path.join(OUT, 'grey-pil.png')
    image.save(png, format='PNG')
    grey = Image.open(png).convert('L')
    with open(os.path.join(OUT, 'grey-pil.json'), 'w') as f:
        json.dump({'side': SIDE, 'pil': Image.__version__, 'grey': grey.tobytes().hex()}, f)
        f.write('\n')


if __name__ == '__main__':
    main()
