"""Every documented error path of watchkeeper.stats, with its message."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from watchkeeper.errors import (
    EmptyInputError,
    InvalidInputError,
    InvalidParameterError,
    MixedTypeColumnError,
    UnknownMethodError,
    WatchkeeperError,
)
from watchkeeper.stats import (
    anderson,
    bin_counts,
    bin_edges,
    chi2,
    chi2_counts,
    correct,
    cramer_von_mises,
    energy,
    hellinger,
    hellinger_counts,
    jensen_shannon,
    jensen_shannon_counts,
    kl,
    kl_counts,
    ks,
    ks_sorted,
    mann_whitney,
    mmd,
    psi,
    psi_counts,
    t_test,
    wasserstein,
    wasserstein_sorted,
    z_proportions,
)

NUMERIC_RAW: list[Callable[..., Any]] = [
    ks, t_test, mann_whitney, cramer_von_mises, anderson, wasserstein, energy, mmd,
    psi, kl, jensen_shannon, hellinger, z_proportions, chi2,
]  # fmt: skip
GOOD = [0.0, 1.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("func", NUMERIC_RAW, ids=lambda f: f.__name__)
def test_nan_raises_by_default_and_omit_drops(func: Callable[..., Any]) -> None:
    message = "reference contains 3 NaN values; pass nan_policy='omit' to drop them."
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        func([0.0, math.nan, 1.0, math.nan, 0.0, 1.0, math.nan], GOOD)
    with pytest.raises(InvalidInputError, match="current contains 1 NaN value;"):
        func(GOOD, [0.0, None, 1.0, 1.0])
    omitted = func([0.0, math.nan, 1.0, 0.0, 1.0, 1.0], GOOD, nan_policy="omit")
    assert omitted == func([0.0, 1.0, 0.0, 1.0, 1.0], GOOD)


@pytest.mark.parametrize("func", NUMERIC_RAW, ids=lambda f: f.__name__)
def test_empty_and_shape_errors(func: Callable[..., Any]) -> None:
    with pytest.raises(EmptyInputError, match="reference is empty"):
        func([], GOOD)
    with pytest.raises(EmptyInputError, match="current has no values left after dropping"):
        func(GOOD, [math.nan, math.nan], nan_policy="omit")
    with pytest.raises(InvalidParameterError, match=r"'nan_policy' parameter of .* 'raise' or"):
        func(GOOD, GOOD, nan_policy="propagate")
    if func is not mmd:  # mmd accepts rows × features
        with pytest.raises(InvalidInputError, match=r"reference must be 1-D; got .* \(2, 2\)"):
            func([[0.0, 1.0], [1.0, 0.0]], GOOD)
    assert isinstance(func(pd.Series(GOOD), np.array(GOOD)), type(func(GOOD, GOOD)))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: t_test([1.0], [1.0, 2.0]), "t_test needs at least 2 values in reference; got 1."),
        (lambda: cramer_von_mises([1.0, 2.0], [3.0]), "needs at least 2 values in current; got 1"),
        (lambda: anderson([1.0], [2.0, 3.0]), "at least 4 values in reference and current"),
        (lambda: anderson([1.0, 1.0], [1.0, 1.0]), "at least 2 distinct values"),
        (lambda: ks(["a", "b"], [1.0]), r"reference must be numeric for ks; got dtype <U1"),
        (lambda: ks([1.0], ["a", 2.0]), r"current must be numeric for ks; got dtype <U32"),
        (lambda: mann_whitney(np.array(["a", 1], dtype=object), [1.0]), r"\['int', 'str'\]"),
        (lambda: t_test([1.0, math.inf], [1.0, 2.0]), "1 infinite value; t_test needs finite"),
        (lambda: wasserstein([1.0, 2.0], [-math.inf, 0.0]), "current contains 1 infinite"),
        (lambda: psi([1.0, math.inf], [1.0]), "reference contains 1 infinite value"),
        (lambda: z_proportions([0, 1, 2], [0, 1]), "only booleans or 0/1 values .* e.g. 2.0"),
        (lambda: psi([1.0, 2.0], ["a", "b"]), "reference is numeric but current is categorical"),
        (lambda: mmd(np.ones((3, 2)), np.ones((3, 3))), "same number of features .* 2 and 3"),
        (lambda: mmd(np.ones((3, 2, 1)), np.ones((3, 2))), "1-D or 2-D"),
        (lambda: mmd([1.0, math.inf], [1.0]), "must be finite for mmd"),
        (
            lambda: wasserstein([1.0], [1.0, 2.0], normalize=True, ddof=1),
            "wasserstein with normalize=True and ddof=1 needs at least 2 values in reference",
        ),
        (lambda: ks([[1.0], [2.0]], [1.0]), r"must be 1-D; got an array of shape \(2, 1\)"),
        (lambda: ks(5.0, [1.0]), r"must be 1-D; got an array of shape \(\)"),
        (lambda: ks([[1.0], [2.0, 3.0]], [1.0]), "reference cannot be read as an array"),
    ],
)
def test_invalid_input(call: Callable[[], object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_mixed_label_types() -> None:
    with pytest.raises(MixedTypeColumnError, match="mix value types"):
        chi2(np.array(["a", 1], dtype=object), ["a"])
    with pytest.raises(MixedTypeColumnError, match="convert the labels to one type"):
        hellinger(np.array(["a", 1], dtype=object), ["a", "b"])
    with pytest.raises(InvalidInputError, match="categorical but current is numeric"):
        hellinger(["a", "b"], np.array([1, 2]))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ks([1.0], [2.0], alternative="two_sided"), "'alternative' parameter of ks"),
        (lambda: ks([1.0], [2.0], method="approx"), "'auto', 'exact', 'asymp'. Got 'approx'"),
        (lambda: mann_whitney([1.0], [2.0], method="asymp"), "'auto', 'asymptotic', 'exact'"),
        (lambda: cramer_von_mises([1.0, 2], [2.0, 3], method="perm"), "of cramer_von_mises"),
        (lambda: psi([1.0], [2.0], binning="equal"), "'quantile', 'uniform'. Got 'equal'"),
        (lambda: bin_edges([1.0], binning="kmeans"), "'binning' parameter of bin_edges"),
        (lambda: chi2(["a"], ["b"], kind="gof"), "'contingency', 'goodness_of_fit'"),
        (lambda: chi2_counts([1], [2], kind="g-test"), "'kind' parameter of chi2_counts"),
        (lambda: correct([0.1], "fdr"), "'bonferroni', 'holm', 'bh'. Got 'fdr' instead."),
        (lambda: correct([0.1], None), "Got None instead."),  # type: ignore[arg-type]
    ],
)
def test_unknown_method(call: Callable[[], object], match: str) -> None:
    with pytest.raises(UnknownMethodError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: correct([0.1], alpha=1.5),
            "The 'alpha' parameter of correct must be in (0, 1). Got 1.5 instead.",
        ),
        (
            lambda: correct([0.1], alpha=0),
            "The 'alpha' parameter of correct must be in (0, 1). Got 0 instead.",
        ),
        (
            lambda: psi([1.0], [2.0], bins=0),
            "The 'bins' parameter of psi must be an int >= 1. Got 0 instead.",
        ),
        (
            lambda: bin_edges([1.0], bins=2.5),
            "The 'bins' parameter of bin_edges must be an int >= 1. Got 2.5 instead.",
        ),
        (
            lambda: kl([1.0], [2.0], bins=True),
            "The 'bins' parameter of kl must be an int >= 1. Got True instead.",
        ),
        (
            lambda: psi([1.0], [2.0], eps=-1e-3),
            "The 'eps' parameter of psi must be >= 0. Got -0.001 instead.",
        ),
        (
            lambda: hellinger_counts([1], [1], eps=math.nan),
            "The 'eps' parameter of hellinger_counts must be >= 0. Got nan instead.",
        ),
        (
            lambda: jensen_shannon([1.0], [2.0], base=1),
            "The 'base' parameter of jensen_shannon must be > 0 and != 1. Got 1 instead.",
        ),
        (
            lambda: kl_counts([1], [1], base=-2),
            "The 'base' parameter of kl_counts must be > 0. Got -2 instead.",
        ),
        (
            lambda: mmd([1.0], [2.0], n_permutations=0),
            "The 'n_permutations' parameter of mmd must be an int >= 1. Got 0 instead.",
        ),
        (
            lambda: mmd([1.0], [2.0], max_samples=0),
            "The 'max_samples' parameter of mmd must be an int >= 1. Got 0 instead.",
        ),
        (
            lambda: mmd([1.0], [2.0], seed=-1),
            "The 'seed' parameter of mmd must be an int >= 0. Got -1 instead.",
        ),
        (
            lambda: mmd([1.0], [2.0], plus_one=1),
            "The 'plus_one' parameter of mmd must be a bool. Got 1 instead.",
        ),
        (
            lambda: wasserstein([1.0], [2.0], ddof=-1),
            "The 'ddof' parameter of wasserstein must be an int >= 0. Got -1 instead.",
        ),
        (
            lambda: t_test([1.0, 2], [2.0, 3], equal_var="no"),
            "The 'equal_var' parameter of t_test must be a bool. Got 'no' instead.",
        ),
        (
            lambda: anderson([1.0], [2.0], midrank=None),
            "The 'midrank' parameter of anderson must be a bool. Got None instead.",
        ),
        (
            lambda: chi2(["a"], ["b"], kind="goodness_of_fit", correction=True),
            "The 'correction' parameter of chi2 applies only to kind='contingency'.",
        ),
        (
            lambda: chi2_counts([1], [2], kind="goodness_of_fit", eps=-1),
            "The 'eps' parameter of chi2_counts must be >= 0. Got -1 instead.",
        ),
        (
            lambda: bin_counts([1.0], [0.0, 1.0], presorted="yes"),
            "The 'presorted' parameter of bin_counts must be a bool.",
        ),
    ],
)
def test_invalid_parameter(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        call()


@pytest.mark.parametrize(
    "kernel", [psi_counts, kl_counts, jensen_shannon_counts, hellinger_counts, chi2_counts]
)
def test_counts_kernel_errors(kernel: Callable[..., Any]) -> None:
    with pytest.raises(InvalidInputError, match=r"same length .* got 2 and 3"):
        kernel([1, 2], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="ref_counts must hold finite, non-negative"):
        kernel([1, -2], [1, 2])
    with pytest.raises(InvalidInputError, match="cur_counts must hold finite, non-negative"):
        kernel([1, 2], [1, math.inf])
    with pytest.raises(EmptyInputError, match="cur_counts sums to 0"):
        kernel([1, 2], [0, 0])
    with pytest.raises(EmptyInputError, match="ref_counts is empty"):
        kernel([], [])
    with pytest.raises(InvalidInputError, match="ref_counts must be 1-D"):
        kernel([[1, 2]], [1, 2])
    with pytest.raises(InvalidInputError, match="ref_counts must be a vector of counts"):
        kernel(["a", "b"], [1, 2])


def test_binning_kernel_errors() -> None:
    with pytest.raises(EmptyInputError, match="reference is empty; bin_edges"):
        bin_edges([])
    with pytest.raises(InvalidInputError, match="finite values for bin_edges"):
        bin_edges([1.0, math.nan])
    with pytest.raises(InvalidInputError, match="reference must be 1-D"):
        bin_edges([[1.0, 2.0]])
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        bin_counts([1.0], [0.0, 2.0, 1.0])
    with pytest.raises(InvalidInputError, match="at least 2 values"):
        bin_counts([1.0], [0.0])
    with pytest.raises(InvalidInputError, match="edges must be finite"):
        bin_counts([1.0], [0.0, math.inf])
    with pytest.raises(InvalidInputError, match="values contains NaN"):
        bin_counts([1.0, math.nan], [0.0, 1.0])
    with pytest.raises(InvalidInputError, match="values contains NaN"):
        bin_counts([1.0, math.nan], [0.0, 1.0], presorted=True)
    with pytest.raises(InvalidInputError, match="values must be 1-D"):
        bin_counts([[1.0]], [0.0, 1.0])


@pytest.mark.parametrize("kernel", [ks_sorted, wasserstein_sorted])
def test_sorted_kernel_errors(kernel: Callable[..., Any]) -> None:
    with pytest.raises(EmptyInputError, match="ref_sorted is empty"):
        kernel([], [1.0])
    with pytest.raises(InvalidInputError, match="cur_sorted contains NaN"):
        kernel([1.0], [1.0, math.nan])
    with pytest.raises(InvalidInputError, match="cur_sorted must be 1-D"):
        kernel([1.0], [[1.0]])


def test_correct_input_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"must lie in \[0, 1\] .* got 1.2"):
        correct([0.1, 1.2])
    with pytest.raises(InvalidInputError, match="p_values must be 1-D"):
        correct([[0.1]])
    with pytest.raises(InvalidInputError, match="p_values must be numeric"):
        correct(["x"])


def test_every_error_is_a_watchkeeper_error_and_a_value_error() -> None:
    for call in (
        lambda: ks([], [1.0]),
        lambda: correct([0.1], alpha=2),
        lambda: ks([1.0], [1.0], method="x"),
    ):
        with pytest.raises(WatchkeeperError):
            call()
        with pytest.raises(ValueError):
            call()
