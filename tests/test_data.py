"""Data stage: generators, standardisation and the errors for data the pipeline cannot use."""

import numpy as np
import pytest

from nncosmo.config import DIGITS_PER_CLASS
from nncosmo.data import DataError, digits, make_dataset, teacher, to_dataset

TEACHER = dict(kind="teacher", n_samples=20, n_features=3, noise=0.1, target_mean=1.0, seed=4)


def test_teacher_dataset_is_standardised_and_documented():
    ds = make_dataset("t", TEACHER)
    assert ds.x.dims == ("sample", "feature") and ds.y.dims == ("sample",)
    np.testing.assert_allclose(ds.x.mean("sample"), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x.std("sample"), 1, rtol=1e-12)
    assert ds.x.attrs["long_name"] and ds.y.attrs["units"]


def test_data_file_keeps_the_specs_types(tmp_path):
    """The spec in the file's attributes reads back as numbers and arrays, not as text."""
    from nncosmo.io import read_dataset, write_dataset

    spec = dict(kind="digits", n_samples=30, classes=[3, 8], seed=2)
    ds = read_dataset(write_dataset(make_dataset("d", spec), tmp_path / "d.nc"))
    assert ds.attrs["n_samples"] == 30 and ds.attrs["seed"] == 2 and ds.attrs["kind"] == "digits"
    np.testing.assert_array_equal(ds.attrs["classes"], [3, 8])
    teacher_file = read_dataset(write_dataset(make_dataset("t", TEACHER), tmp_path / "t.nc"))
    assert teacher_file.attrs["noise"] == 0.1 and teacher_file.attrs["n_features"] == 3


def test_teacher_is_reproducible_and_seed_dependent():
    a, b, c = teacher(10, 2, 0.1, 0.0, 1), teacher(10, 2, 0.1, 0.0, 1), teacher(10, 2, 0.1, 0.0, 2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], c[1])


def is_subsequence(short, long):
    """Whether `short` is `long` with some entries left out (order kept)."""
    values = iter(long)
    return all(any(v == w for w in values) for v in short)


def source_labels(x):
    """The digit label of each row of x, found in scikit-learn's load_digits: the one image
    whose pixels hold the row as a subsequence (the kept pixels) with the pixel sum's excess
    the same for every row (the dropped pixels are constant over the picked images); also
    the matched images (row order)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    matches = []
    for row in x:
        found = [
            i
            for i in np.flatnonzero(bunch.data.sum(axis=1) >= row.sum())
            if is_subsequence(row, bunch.data[i])
        ]
        labels = set(bunch.target[found].tolist())
        assert len(labels) == 1, f"row matches images of digits {labels}"
        matches.append(found[0])
    images = bunch.data[matches]
    excess = images.sum(axis=1) - x.sum(axis=1)
    assert np.all(excess == excess[0])
    varying = images.std(axis=0) > 0  # the pixels dropped: constant over the picked images
    np.testing.assert_array_equal(x, images[:, varying])
    return bunch.target[matches]


@pytest.mark.parametrize("classes", [[3, 8], [8, 3], [0, 1]])
def test_digits_two_classes_plus_minus_one(classes):
    """40 distinct images of the two classes, both present, labelled y = +1 for classes[0] and
    -1 for classes[1] (checked against the images' load_digits labels), constant pixels
    dropped."""
    x, y = digits(40, classes, seed=0)
    assert x.shape[0] == 40 and set(y.tolist()) == {-1.0, 1.0}
    assert (x.std(axis=0) > 0).all() and len(np.unique(x, axis=0)) == 40
    labels = source_labels(x)
    assert set(labels.tolist()) == set(classes)
    np.testing.assert_array_equal(y, np.where(labels == classes[0], 1.0, -1.0))


def test_digits_per_class_matches_scikit_learn():
    """The startup check's image counts per class are scikit-learn's own."""
    from sklearn.datasets import load_digits

    assert tuple(np.bincount(load_digits().target)) == DIGITS_PER_CLASS


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


def test_teacher_target_is_tanh_of_the_projection_over_sqrt_d():
    """Without noise y = tanh(w . x / sqrt(d)) + target_mean, x then w drawn N(0, 1) from
    numpy's Generator seeded with `seed`: artanh(y - target_mean) is linear in x with
    coefficients w / sqrt(d) = w / 2 (d = 4), so the variance of the pre-activation stays O(1)
    whatever d."""
    x, y = teacher(12, 4, 0.0, 0.5, 7)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(x, rng.standard_normal((12, 4)))
    w = rng.standard_normal(4)
    coefficients = np.linalg.lstsq(x, np.arctanh(y - 0.5), rcond=None)[0]
    np.testing.assert_allclose(coefficients, w / 2, rtol=1e-10)


def test_teacher_noise_is_additive_standard_normal_times_noise():
    """With the same seed, y(noise) - y(0) = noise * eps: linear in noise, eps of mean ~0 and
    standard deviation ~1 over 4000 samples (5 standard errors)."""
    _, clean = teacher(4000, 3, 0.0, 0.2, 5)
    _, y1 = teacher(4000, 3, 0.1, 0.2, 5)
    _, y3 = teacher(4000, 3, 0.3, 0.2, 5)
    np.testing.assert_allclose(y3 - clean, 3 * (y1 - clean), rtol=1e-9, atol=1e-12)
    eps = (y1 - clean) / 0.1
    assert abs(eps.mean()) < 5 / np.sqrt(4000) and abs(eps.std() - 1) < 5 / np.sqrt(2 * 4000)


def test_digits_takes_every_image_of_the_classes_and_refuses_one_more():
    """n_samples up to the classes' image count (scikit-learn's labels) works; one more fails."""
    from sklearn.datasets import load_digits

    available = int(np.isin(load_digits().target, [3, 8]).sum())
    x, y = digits(available, [3, 8], seed=1)
    assert x.shape[0] == available and len(np.unique(x, axis=0)) == available
    with pytest.raises(DataError, match=f"have only {available}"):
        digits(available + 1, [3, 8], seed=1)


def test_dataset_targets_are_the_generators_unchanged():
    """make_dataset standardises x only: y is the generator's target as it is."""
    params = {k: v for k, v in TEACHER.items() if k != "kind"}
    np.testing.assert_array_equal(make_dataset("t", TEACHER).y, teacher(**params)[1])
