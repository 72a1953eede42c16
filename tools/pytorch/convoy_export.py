#!/usr/bin/python3
"""Rebuilds the network of a `convoy export` file (safetensors) in PyTorch from the file alone, and classifies images.

    /usr/bin/python3 tools/pytorch/convoy_export.py runs/cifar10/latest.safetensors [image.png ...]

The file's metadata holds the network's JSON (`modelSpec`): a layer list (a model file, kind
'layers') is built by model_file.py, the recipe network by make_fixtures.py; the tensors are that
module's state_dict (BatchNorm's running statistics included).

Needs only PyTorch and NumPy (Pillow for images): the safetensors file is parsed by hand (an
8-byte little-endian header length, a JSON header, then the tensors' bytes), so the `safetensors`
package is not required. `load_state_dict(strict=True)` proves every name and shape matches.
"""
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import recipe_net  # noqa: E402
from model_file import build as build_layer_list  # noqa: E402

DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64}


def read_safetensors(path):
    """(OrderedDict name -> torch.Tensor, metadata dict) of a safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (header_len,) = struct.unpack('<Q', raw[:8])
    if header_len > len(raw) - 8:
        raise ValueError(f'{path}: header length {header_len} exceeds the file ({len(raw)} bytes)')
    header = json.loads(raw[8:8 + header_len].decode('utf8'))
    metadata = header.pop('__metadata__', {})
    data = raw[8 + header_len:]
    tensors = OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
        begin, end = info['data_offsets']
        values = np.frombuffer(data[begin:end], dtype=np.dtype(DTYPES[info['dtype']]).newbyteorder('<'))
        values = values.reshape(info['shape'])
        tensors[name] = torch.from_numpy(values.astype(np.int64 if info['dtype'] == 'I64' else np.float32))
    return tensors, metadata


def build_network(spec):
    """The PyTorch module of a convoy modelSpec: a layer list (`{kind: 'layers', classes, input, layers}`) or the recipe."""
    if spec.get('kind') == 'layers':
        return build_layer_list({'input': spec['input'], 'layers': spec['layers']}, classes=spec['classes'])
    if spec.get('kind') == 'recipe':
        return recipe_net(spec['resolution'], spec['classes'], spec['width'], spec.get('inChannels', 3))
    raise ValueError(f"modelSpec kind {spec.get('kind')!r} is neither 'layers' nor 'recipe'")


def load_convoy_export(path):
    """The network of the file's modelSpec with the file's tensors (strict), in eval mode, and the metadata (JSON-decoded)."""
    tensors, raw_metadata = read_safetensors(path)
    metadata = {key: json.loads(value) if key in ('modelSpec', 'classNames', 'normalization', 'resolution') else value
                for key, value in raw_metadata.items()}
    if 'modelSpec' not in metadata:
        raise ValueError(f'{path}: no modelSpec in the metadata; is this a `convoy export` file?')
    model = build_network(metadata['modelSpec'])
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model, metadata


def normalise(pixels, normalization):
    """uint8 pixels (N, C, R, R) to the network's input, as convoy does: float32((p/255 - mean[c]) / std[c])."""
    mean = np.asarray(normalization['mean'], dtype=np.float64).reshape(1, -1, 1, 1)
    std = np.asarray(normalization['std'], dtype=np.float64).reshape(1, -1, 1, 1)
    return torch.from_numpy(((np.asarray(pixels, dtype=np.float64) / 255 - mean) / std).astype(np.float32))


def load_image(path, resolution, channels=3):
    """An image file as (C, R, R) uint8 (C 3: RGB, 1: grey): smaller side to R, then the centre R x R, as convoy's decodeImage.
    Pillow's resampling differs slightly from convoy's (sharp), so resized images may score slightly
    differently; images already R x R (e.g. CIFAR-10 PNGs) are used as they are, exactly."""
    from PIL import Image
    image = Image.open(path).convert('L' if channels == 1 else 'RGB')
    w, h = image.size
    if (w, h) != (resolution, resolution):
        scale = resolution / min(w, h)
        image = image.resize((max(resolution, round(w * scale)), max(resolution, round(h * scale))), Image.LANCZOS)
        w, h = image.size
        left, top = (w - resolution) // 2, (h - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
    return np.asarray(image, dtype=np.uint8).reshape(resolution, resolution, channels).transpose(2, 0, 1)


def main(argv):
    if len(argv) < 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    model, metadata = load_convoy_export(argv[0])
    print(f"{argv[0]}: {metadata['modelSpec']}, {sum(p.numel() for p in model.parameters())} parameters, classes {metadata['classNames']}")
    if len(argv) > 1:
        pixels = np.stack([load_image(p, metadata['resolution'], len(metadata['normalization']['mean'])) for p in argv[1:]])
        with torch.no_grad():
            probabilities = torch.softmax(model(normalise(pixels, metadata['normalization'])), dim=1)
        for path, p in zip(argv[1:], probabilities):
            top = torch.topk(p, min(3, len(p)))
            print(path + ': ' + ', '.join(f"{metadata['classNames'][i]} {100 * float(v):.1f}%" for v, i in zip(top.values, top.indices)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
