"""nnaccel/network.schema.json against the loader: every bundled file and the test network pass it,
and it rejects every field-level error the loader rejects (the rest — graph order, shapes
that must agree — is beyond a JSON Schema and is the loader's alone)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from bad_networks import BAD, GOOD, mutate

from nnaccel.loader import bundled_networks
from nnaccel.netschema import SCHEMA_PATH

SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# The loader's errors that a JSON Schema can express: a field's presence, type and range.
FIELD_LEVEL = {
    "unknown-top-field", "missing-top-field", "empty-layers", "bad-input-shape",
    "paper-unknown", "paper-type", "layer-not-object", "unknown-type", "type-not-string",
    "unknown-layer-field", "field-of-other-type", "missing-kernel", "missing-output",
    "missing-type", "missing-name", "kernel-string", "kernel-three", "groups-float",
    "groups-bool", "bias-string", "inputs-string", "zero-channels", "zero-stride",
    "zero-groups", "negative-padding", "padding-three", "sparsity-one", "sparsity-string",
    "zero-dilation", "two-inputs-to-conv", "one-input-to-add",
}


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", bundled_networks(), ids=lambda p: Path(p).stem)
def test_every_bundled_network_passes_the_schema(path):
    errors = [e.message for e in VALIDATOR.iter_errors(json.loads(Path(path).read_text()))]
    assert errors == []


def test_the_schema_rejects_exactly_the_field_level_errors():
    assert VALIDATOR.is_valid(GOOD)
    rejected = {case for case, fn, *_ in BAD if not VALIDATOR.is_valid(mutate(fn))}
    assert rejected == FIELD_LEVEL
