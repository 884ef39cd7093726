"""load_network: a good file loads; every kind of bad file gets one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_networks import BAD, GOOD, mutate

from nnaccel.errors import NetworkError
from nnaccel.loader import bundled_networks, load_network, networks_dir
from nnaccel.network import Layer, Network


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "net.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_good_file_loads(tmp_path):
    net = load_network(write(tmp_path, GOOD))
    assert isinstance(net, Network) and net.name == "tiny" and len(net.layers) == 7
    c1, c2 = net.layers[0], net.layers[1]
    assert c1 == Layer("c1", "conv", ("input",), ((3, 8, 8),), (4, 8, 8), (3, 3), (1, 1),
                       (1, 1), 1, False, True, False)
    assert c2.groups == 2 and c2.stride == (1, 1) and c2.padding == (0, 0)  # defaults
    assert net.layer("fc").input_shape == (4, 5, 5)
    assert net.params == (4 * 27 + 8) + 4 * 2 + (10 * 100 + 10)
    assert net.paper["depth"] == (1, 1) and net.path == str(tmp_path / "net.json")
    with pytest.raises(AttributeError):
        net.name = "other"  # frozen


def test_bundled_names_resolve():
    by_stem = load_network("sqnxt23v5")
    assert by_stem.name == "1.0-SqNxt-23v5"
    assert load_network("1.0-SqNxt-23v5") == by_stem  # the paper's name works too
    assert load_network(networks_dir() / "sqnxt23v5.json") == by_stem
    assert "schema" not in {p.stem for p in bundled_networks()}


@pytest.mark.parametrize(("mutation", "layer", "field", "words"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_file(tmp_path, mutation, layer, field, words):
    path = write(tmp_path, mutate(mutation))
    with pytest.raises(NetworkError) as info:
        load_network(path)
    err = info.value
    message = str(err)
    assert message.startswith(str(path))
    assert err.layer == layer and err.field == field
    if layer is not None:
        assert f"layer '{layer}'" in message
    if field is not None:
        assert f"field '{field}'" in message
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "words"), [
    ('{"name": "x",\n  "input_shape": [3, 8, 8],,\n}', "invalid JSON at line 2, column 28"),
    ("", "invalid JSON at line 1, column 1"),
    ('{"name": "a", "name": "b"}', "the key 'name' appears twice"),
    ("[1, 2]", "expected a JSON object at the top level"),
])
def test_bad_json(tmp_path, text, words):
    with pytest.raises(NetworkError, match=words.replace("[", r"\[")):
        load_network(write(tmp_path, text))


def test_unreadable_and_missing(tmp_path):
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NetworkError, match="cannot read the file"):
        load_network(binary)
    with pytest.raises(NetworkError, match="no such file, and no bundled network"):
        load_network(tmp_path / "absent.json")
    with pytest.raises(NetworkError, match="bundled: .*sqnxt23v5"):
        load_network("sqnxt99")
