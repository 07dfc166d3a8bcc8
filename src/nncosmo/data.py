"""Stage 1, data: a synthetic teacher regression and scikit-learn's digits, standardised.

Every data set is an xarray Dataset with x(sample, feature) and y(sample).
"""

from __future__ import annotations

import numpy as np
import xarray as xr


class DataError(ValueError):
    """A data set that the pipeline cannot train on (NaN, constant feature, too few samples...)."""


def validate(name: str, x: np.ndarray, y: np.ndarray) -> None:
    """Refuse data that would silently break training: shapes, N >= 2, finiteness, variance."""
    if x.ndim != 2 or y.ndim != 1:
        raise DataError(
            f"data set '{name}': x must be (sample, feature) and y (sample,), "
            f"got shapes {x.shape} and {y.shape}"
        )
    if x.shape[0] != y.shape[0]:
        raise DataError(f"data set '{name}': x has {x.shape[0]} samples but y has {y.shape[0]}")
    if x.shape[0] < 2:
        raise DataError(f"data set '{name}': needs at least 2 samples, got {x.shape[0]}")
    for label, arr in (("x", x), ("y", y)):
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        if bad:
            raise DataError(f"data set '{name}': {label} has {bad} NaN or infinite values")
    constant = np.flatnonzero(x.std(axis=0) == 0)
    if constant.size:
        raise DataError(
            f"data set '{name}': features {constant.tolist()} have zero variance; "
            f"drop them before standardising"
        )


def standardise(x: np.ndarray) -> np.ndarray:
    """Per-feature z-score: (x - mean) / std over samples."""
    return (x - x.mean(axis=0)) / x.std(axis=0)


def netcdf_attribute(value):
    """A config value as a netCDF attribute of its own type: a list as a 1-d array, a number or a
    string as it is (the data set's spec, so that attrs["n_samples"] reads back as 64, not "64")."""
    return np.asarray(value) if isinstance(value, list) else value


def to_dataset(name: str, x: np.ndarray, y: np.ndarray, attrs: dict) -> xr.Dataset:
    """Validate, standardise x, and wrap as the stage's documented Dataset."""
    validate(name, x, y)
    n, d = x.shape
    return xr.Dataset(
        {
            "x": (
                ("sample", "feature"),
                standardise(x),
                {"long_name": "standardised input", "units": "1"},
            ),
            "y": (("sample",), y.astype(np.float64), {"long_name": "target", "units": "1"}),
        },
        coords={"sample": np.arange(n), "feature": np.arange(d)},
        attrs={"dataset": name, **{k: netcdf_attribute(v) for k, v in attrs.items()}},
    )


def teacher(
    n_samples: int, n_features: int, noise: float, target_mean: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher regression: y = tanh(w . x / sqrt(d)) + target_mean + noise * eps, x, w ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features))
    w = rng.standard_normal(n_features)
    y = np.tanh(x @ w / np.sqrt(n_features)) + target_mean
    return x, y + noise * rng.standard_normal(n_samples)


def digits(n_samples: int, classes: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits, two classes, target +1 / -1, constant pixels dropped."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.isin(bunch.target, classes)
    x, label = bunch.data[keep], bunch.target[keep]
    if n_samples > len(label):
        raise DataError(
            f"data set 'digits': asked for {n_samples} samples, classes {classes} "
            f"have only {len(label)}"
        )
    pick = np.random.default_rng(seed).choice(len(label), size=n_samples, replace=False)
    x, label = x[pick], label[pick]
    x = x[:, x.std(axis=0) > 0]
    return x, np.where(label == classes[0], 1.0, -1.0)


GENERATORS = {"teacher": teacher, "digits": digits}


def make_dataset(name: str, spec: dict) -> xr.Dataset:
    """Build the data set `name` from its config entry (`kind` picks the generator)."""
    params = {k: v for k, v in spec.items() if k != "kind"}
    x, y = GENERATORS[spec["kind"]](**params)
    return to_dataset(name, x, y, spec)
