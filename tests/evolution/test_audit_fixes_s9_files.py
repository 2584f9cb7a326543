"""Demonstration and DevelopmentalGenome files (s9/b1 findings 9, 10, 12): deeply nested
JSON, huge integers, and strings, bools, complex numbers or non-integer versions as numbers
are refused with the documented ValueError / GenomeFormatError, never another exception or
a silent conversion. Need patch-demonstration.diff and patch-developmental.diff (s9/g1)."""

import json

import numpy as np
import pytest

from rosenblatt.evolution import Demonstration, DevelopmentalGenome, DevelopmentalNetwork
from rosenblatt.evolution.genome import GenomeFormatError

DEEP = "[" * 100000 + "]" * 100000


@pytest.fixture
def demo_dict():
    d = Demonstration(np.array([[0.1, 0.2], [0.3, 0.4]]), np.array([[1.0], [0.0]]),
                      {"who": "me"})
    return json.loads(d.to_json())


def _npz(tmp_path, **edit):
    base = dict(format=np.array("rosenblatt.demonstration"), version=np.array(1),
                observations=np.array([[0.1, 0.2], [0.3, 0.4]]),
                actions=np.array([[1.0], [0.0]]), info=np.array(json.dumps({"a": 1})))
    path = tmp_path / "demo.npz"
    np.savez(path, **{**base, **edit})
    return str(path)


# -- 9, 10: deep nesting and huge integers ----------------------------------------------------
def test_npz_info_deeply_nested_is_not_a_demonstration(tmp_path):
    path = _npz(tmp_path, info=np.array(DEEP))
    with pytest.raises(ValueError, match="not a demonstration"):
        Demonstration.load(path)


def test_a_huge_integer_in_a_demonstration_is_a_value_error(demo_dict):
    demo_dict["observations"] = [[10**400, 1], [1, 2]]
    with pytest.raises(ValueError, match="observations must be .* numbers"):
        Demonstration.from_json(json.dumps(demo_dict))


@pytest.fixture
def genome_dict():
    return json.loads(DevelopmentalNetwork((2, 1), rule="layer").genome().to_json())


def test_a_huge_integer_in_a_genome_is_a_format_error(genome_dict):
    huge = dict(genome_dict, w_max=10**400)
    with pytest.raises(GenomeFormatError, match="malformed genome"):
        DevelopmentalGenome.from_json(json.dumps(huge))
    layers = [dict(layer) for layer in genome_dict["layers"]]
    layers[0]["weight"] = [[10**400] * len(layers[0]["weight"][0])]
    with pytest.raises(GenomeFormatError, match="gene 'weight'"):
        DevelopmentalGenome.from_json(json.dumps(dict(genome_dict, layers=layers)))


def test_a_deeply_nested_genome_is_not_json():
    with pytest.raises(GenomeFormatError, match="not JSON"):
        DevelopmentalGenome.from_json('{"format": "x", "layers": ' + DEEP + '}')


# -- 12: strings, bools, complex numbers, non-integer versions --------------------------------
@pytest.mark.parametrize("key, value", [
    ("observations", [["1", "2"], ["3", "4"]]), ("actions", [[True], [False]]),
    ("actions", [[True], [2.0]]),
])
def test_a_demonstration_of_strings_or_bools_is_refused(demo_dict, key, value):
    with pytest.raises(ValueError, match=f"{key} must be .* numbers"):
        Demonstration.from_json(json.dumps(dict(demo_dict, **{key: value})))


@pytest.mark.parametrize("edit, match", [
    (dict(version=np.array(1.7)), "version"), (dict(version=np.array("1")), "version"),
    (dict(version=np.array(True)), "version"),
    (dict(observations=np.array([["1", "2"], ["3", "4"]])), "observations"),
    (dict(observations=np.array([[0.1, 0.2], [0.3, 0.4]]) + 1j), "observations"),
    (dict(actions=np.array([[True], [False]])), "actions"),
])
def test_an_npz_of_other_types_is_refused(tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        Demonstration.load(_npz(tmp_path, **edit))


def test_integer_arrays_still_read(tmp_path, demo_dict):
    d = Demonstration.load(_npz(tmp_path, actions=np.array([[1], [0]])))
    assert d.actions.dtype == np.float64 and d.actions.tolist() == [[1.0], [0.0]]
    assert Demonstration.from_json(json.dumps(demo_dict)).info == {"who": "me"}


@pytest.mark.parametrize("version", [True, 1.0])
def test_a_genome_version_must_be_the_integer(genome_dict, version):
    with pytest.raises(GenomeFormatError, match="unsupported version"):
        DevelopmentalGenome.from_json(json.dumps(dict(genome_dict, version=version)))


@pytest.mark.parametrize("fill", ["1", True])
def test_genes_of_strings_or_bools_are_refused(genome_dict, fill):
    layers = [dict(layer) for layer in genome_dict["layers"]]
    layers[0]["weight"] = [[fill] * len(row) for row in layers[0]["weight"]]
    with pytest.raises(GenomeFormatError, match="gene 'weight' must be an array of numbers"):
        DevelopmentalGenome.from_json(json.dumps(dict(genome_dict, layers=layers)))


def test_a_genome_still_round_trips(genome_dict):
    g = DevelopmentalGenome.from_json(json.dumps(genome_dict))
    assert json.loads(g.to_json()) == genome_dict
