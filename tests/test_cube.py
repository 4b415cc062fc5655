"""The one unit-cube encoding Bayes and Protein share (space/cube.py)."""

from __future__ import annotations

import numpy as np

from nested_sweeper.space import parse_distribution
from nested_sweeper.space.cube import UnitCube

SPACE = {
    "lr": parse_distribution({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2}),
    "batch": parse_distribution({"distribution": "uniform_pow2", "min": 16, "max": 256}),
    "opt": parse_distribution({"values": ["adam", "sgd", "rmsprop"]}),
}


def test_encode_then_decode_gives_the_params_back() -> None:
    cube = UnitCube(SPACE)
    params = {"lr": 1e-3, "batch": 64, "opt": "rmsprop"}
    x = cube.encode(params)
    assert x[0] == SPACE["lr"].to_unit(1e-3) and x[2] == 2.0  # a coordinate; a category index
    back = cube.decode(x)
    assert back["batch"] == 64 and back["opt"] == "rmsprop" and abs(back["lr"] - 1e-3) < 1e-12


def test_missing_and_illegal_values_are_imputed_at_the_centre() -> None:
    cube = UnitCube(SPACE)
    centre = cube.encode({k: d.center for k, d in SPACE.items()})
    assert np.array_equal(cube.encode({"opt": "nope", "batch": "x"}), centre)


def test_decode_clips_to_the_cube_and_rounds_categories() -> None:
    out = UnitCube(SPACE).decode(np.array([1.7, -0.3, 1.4]))
    assert out == {"lr": SPACE["lr"].from_unit(1.0), "batch": 16, "opt": "sgd"}
