"""workbench.validate: the package's argument checks and their one wording."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.labels import LabelError
from workbench.validate import check_bool, check_choice, check_float, check_int, check_seed


def test_check_int_accepts_ints_and_numpy_ints():
    assert check_int("n", 3, min=1) == 3
    value = check_int("n", np.int64(7), min=1, max=9)
    assert value == 7 and type(value) is int
    assert check_int("n", -5) == -5


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (0, {"min": 1}, "n must be an int >= 1; got 0"),
    (10, {"min": 1, "max": 9}, r"n must be an int in 1\.\.9; got 10"),
    (5, {"max": 4}, "n must be an int <= 4; got 5"),
    (True, {}, "n must be an int; got True"),
    (1.0, {"min": 0}, r"n must be an int >= 0; got 1\.0"),
    ("3", {}, "n must be an int; got '3'"),
    (0, {"min": 1, "what": "an integer"}, "n must be an integer >= 1; got 0"),
])
def test_check_int_refuses(value, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        check_int("n", value, **kwargs)


def test_check_int_raises_the_callers_error():
    with pytest.raises(LabelError, match="min_per_class must be an int >= 1; got 0"):
        check_int("min_per_class", 0, min=1, error=LabelError)


def test_check_float():
    assert check_float("x", 0.5, min=0, max=1) == 0.5
    assert check_float("x", np.float32(2.0), min=0, min_open=True) == 2.0
    assert check_float("x", 3) == 3.0


@pytest.mark.parametrize(("value", "kwargs", "message"), [
    (1.0, {"min": 0, "max": 1, "max_open": True, "what": "a float"}, r"dropout must be a float in \[0, 1\); got 1\.0"),
    (0, {"min": 0, "min_open": True, "what": "a number of seconds"}, "dropout must be a number of seconds > 0; got 0"),
    (math.nan, {}, r"dropout must be a number \(finite\); got nan"),
    (math.inf, {"max": 5}, "dropout must be a number <= 5; got inf"),
    (False, {}, "dropout must be a number"),
    ("1", {}, "dropout must be a number"),
])
def test_check_float_refuses(value, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        check_float("dropout", value, **kwargs)


def test_check_choice():
    assert check_choice("format", "csv", ("json", "csv")) == "csv"
    with pytest.raises(ParameterError, match="overlap must be one of 'refuse', 'replace'; got 'x'"):
        check_choice("overlap", "x", ("refuse", "replace"))
    with pytest.raises(LabelError, match="format must be one of json, csv; got 'xml'"):
        check_choice("format", "xml", ("json", "csv"), quote=False, error=LabelError)
    with pytest.raises(ParameterError, match="size must be one of 512, 6144; got '512'"):
        check_choice("size", "512", (512, 6144))
    with pytest.raises(ParameterError, match="size must be one of 512, 6144; got array"):
        check_choice("size", np.array([512, 6144]), (512, 6144))


def test_check_seed_and_bool():
    assert check_seed("seed", np.int32(4)) == 4
    with pytest.raises(ParameterError, match="seed must be an int >= 0; got -1"):
        check_seed("seed", -1)
    assert check_bool("locked", False) is False
    with pytest.raises(ParameterError, match="locked must be True or False; got 1"):
        check_bool("locked", 1)
