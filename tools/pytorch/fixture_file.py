"""What every PyTorch reference fixture starts with, and how it is written."""
import json
import os

import torch


def provenance(what, script):
    """The fixture's description and torch version: what made it, and the command that remakes it."""
    return {
        'description': 'PyTorch %s %s; regenerate with tools/pytorch/%s' % (torch.__version__, what, script),
        'torch': torch.__version__,
    }


def write_fixture(path, fixture, compact=False):
    """Writes the fixture as JSON with a final newline (indented, or compact for large number lists),
    making its folder if needed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        if compact:
            json.dump(fixture, f, separators=(',', ':'))
        else:
            json.dump(fixture, f, indent=1)
        f.write('\n')
