#!/usr/bin/python3
"""Writes apps/trainer/test/fixtures/export-recipe.json: PyTorch's logits from a `convoy export` file.

    npx nx run trainer:build && /usr/bin/python3 tools/pytorch/make_export_fixture.py

1. The built trainer exports a checkpoint of the CIFAR-10 recipe network (width 4) whose weights
   are convoy's seeded initialisation (`createParameters(buildModel(spec), { seed })`), as
   `convoy export` does, to safetensors.
2. That file is read by hand and `load_state_dict(strict=True)`-ed into the PyTorch recipe network
   (tools/pytorch/convoy_export.py); its weights must equal convoy's seeded ones bit for bit
   (convoy_rng.py regenerates them), as a check on both sides.
3. A few images (bytes drawn by convoy's Rng from the seed, so the test regenerates them) are
   normalised with the file's metadata and classified by PyTorch in float64.
The fixture stores the export's sha256 and PyTorch's logits; apps/trainer/test/export.test.ts
exports the same checkpoint, requires the same bytes, and requires convoy's own logits to be
within 1e-4 of PyTorch's.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convoy_export import load_convoy_export, normalise  # noqa: E402
from convoy_rng import Rng  # noqa: E402
from fixture_file import provenance, write_fixture  # noqa: E402
from make_fixtures import initialise_like_convoy, recipe_net  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
OUT = os.path.join(ROOT, 'apps', 'trainer', 'test', 'fixtures', 'export-recipe.json')
SEED = 7
SPEC = {'kind': 'recipe', 'resolution': 32, 'classes': 10, 'width': 4}
CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
NORMALIZATION = {'mean': [0.4914, 0.4822, 0.4465], 'std': [0.247, 0.2435, 0.2616]}
IMAGES = 4

# Builds the checkpoint state exactly as the test does and writes exportSafetensors' bytes.
EXPORT_JS = r"""
const { buildModel, createParameters } = require('@convoy/nn');
const { exportSafetensors } = require('trainer');
const [spec, seed, classNames, normalization, out] = JSON.parse(process.argv[1]);
const { params } = createParameters(buildModel(spec), { seed });
const parameters = params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size }));
require('fs').writeFileSync(out, exportSafetensors({ modelSpec: spec, classNames, resolution: spec.resolution, normalization, parameters, params: params.data }));
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'model.safetensors')
        subprocess.run(['node', '-e', EXPORT_JS, json.dumps([SPEC, SEED, CLASS_NAMES, NORMALIZATION, path])], cwd=ROOT, check=True)
        with open(path, 'rb') as f:
            exported = f.read()
        model, metadata = load_convoy_export(path)
    assert metadata['modelSpec'] == SPEC and metadata['classNames'] == CLASS_NAMES and metadata['normalization'] == NORMALIZATION
    assert metadata['resolution'] == SPEC['resolution'] and metadata['format'] == 'pt'

    seeded = recipe_net(SPEC['resolution'], SPEC['classes'], SPEC['width'])
    initialise_like_convoy(seeded, Rng(SEED))
    for (name, p), (_, q) in zip(model.state_dict().items(), seeded.state_dict().items()):
        assert torch.equal(p, q.float()), name

    r = SPEC['resolution']
    rng = Rng.for_key(SEED, 1)
    pixels = np.array([rng.int(256) for _ in range(IMAGES * 3 * r * r)], dtype=np.uint8).reshape(IMAGES, 3, r, r)
    with torch.no_grad():
        logits = model.double()(normalise(pixels, metadata['normalization']).double())

    fixture = {
        **provenance('logits of a `convoy export` file', 'make_export_fixture.py'),
        'seed': SEED,
        'spec': SPEC,
        'classNames': CLASS_NAMES,
        'normalization': NORMALIZATION,
        'weights': 'createParameters(buildModel(spec), { seed })',
        'images': {'count': IMAGES, 'rng': 'Rng.forKey(seed, 1)', 'formula': 'int(256) per byte, NCHW order (uint8 pixels)'},
        'export': {'bytes': len(exported), 'sha256': hashlib.sha256(exported).hexdigest()},
        'logits': [[float(v) for v in row] for row in logits],
    }
    write_fixture(OUT, fixture)
    print('wrote', OUT, 'export', len(exported), 'bytes; logits[0]', fixture['logits'][0][:3])


if __name__ == '__main__':
    main()
