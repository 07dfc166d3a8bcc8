"""Data stage: generators, standardisation and the errors for data the pipeline cannot use."""

import numpy as np
import pytest

from nncosmo.data import DataError, digits, make_dataset, teacher, to_dataset

TEACHER = dict(kind="teacher", n_samples=20, n_features=3, noise=0.1, target_mean=1.0, seed=4)


def test_teacher_dataset_is_standardised_and_documented():
    ds = make_dataset("t", TEACHER)
    assert ds.x.dims == ("sample", "feature") and ds.y.dims == ("sample",)
    np.testing.assert_allclose(ds.x.mean("sample"), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x.std("sample"), 1, rtol=1e-12)
    assert ds.x.attrs["long_name"] and ds.y.attrs["units"]


def test_teacher_is_reproducible_and_seed_dependent():
    a, b, c = teacher(10, 2, 0.1, 0.0, 1), teacher(10, 2, 0.1, 0.0, 1), teacher(10, 2, 0.1, 0.0, 2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def test_digits_two_classes_plus_minus_one():
    x, y = digits(40, [3, 8], seed=0)
    assert x.shape[0] == 40 and set(np.unique(y)) <= {-1.0, 1.0}
    assert (x.std(axis=0) > 0).all()


@pytest.mark.parametrize(
    "x,y,message",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.zeros(2), "NaN or infinite"),
        (np.array([[1.0, 5.0], [2.0, 5.0]]), np.zeros(2), "zero variance"),
        (np.array([[1.0]]), np.zeros(1), "at least 2 samples"),
        (np.array([[1.0], [2.0]]), np.zeros(3), "3"),
        (np.array([[1.0], [2.0]]), np.array([0.0, np.inf]), "y has 1 NaN"),
    ],
)
def test_bad_data_names_the_dataset(x, y, message):
    with pytest.raises(DataError, match=message) as err:
        to_dataset("mydata", x, y, {})
    assert "mydata" in str(err.value)
