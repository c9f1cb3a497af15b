"""The reference's data loaders on small files in the real formats, and its metrics."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


def _write_jpegs(folder, classes: dict[str, int], size=(40, 30)) -> None:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (folder / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            (folder / name / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())


def test_cifar10_loader_reads_the_pickled_planes_as_channels_last(reference, tmp_path):
    cifar = reference("cs577-a4", "cifar10.py")
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    # One image whose red plane is 10, green 20, blue 30, except pixel (row 1, col 2).
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)])
    row[0 * 1024 + 1 * 32 + 2] = 255
    data = np.stack([row, 255 - row]).astype(np.uint8)
    for name in ("data_batch_1", "test_batch"):
        with open(batches / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": [3, 7]}, handle)
    (x_train, y_train), (x_test, y_test) = cifar.load_cifar10(tmp_path)  # the parent folder
    assert x_train.shape == (2, 32, 32, 3) and x_train.dtype == np.float32
    assert y_train.tolist() == [3, 7] and y_train.dtype == np.int64
    np.testing.assert_allclose(x_train[0, 0, 0], np.array([10, 20, 30]) / 255, rtol=1e-6)
    np.testing.assert_allclose(x_train[0, 1, 2], np.array([255, 20, 30]) / 255, rtol=1e-6)
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0


def test_cifar10_loader_names_the_missing_folder(reference, tmp_path):
    cifar = reference("cs577-a4", "cifar10.py")
    with pytest.raises(FileNotFoundError, match="grader data prepare cifar10"):
        cifar.load_cifar10(tmp_path)


def test_cats_dogs_datasets_read_the_prepared_directory_in_unit_range(reference, tmp_path):
    cats = reference("cs577-a4", "cats_dogs.py")
    for split, count in (("train", 3), ("validation", 2), ("test", 2)):
        _write_jpegs(tmp_path / split, {"cat": count, "dog": count})
    train, validation, test = cats.make_datasets(tmp_path, image_size=(24, 24), batch_size=4)
    images, labels = next(iter(test))
    assert images.shape == (4, 24, 24, 3) and labels.shape == (4, 1)
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    # The test set is not shuffled: cats (0) first, then dogs (1).
    assert np.concatenate([y.numpy().ravel() for _, y in test]).tolist() == [0, 0, 1, 1]
    assert sum(int(y.shape[0]) for _, y in train) == 6


def test_cats_dogs_datasets_say_how_to_prepare_missing_data(reference, tmp_path):
    cats = reference("cs577-a4", "cats_dogs.py")
    with pytest.raises(FileNotFoundError, match="grader data prepare cats-dogs"):
        cats.make_datasets(tmp_path)


def test_q9_datasets_share_the_training_class_names(reference, tmp_path):
    q9 = reference("ds-ag-021", "q9_directory_training.py")
    _write_jpegs(tmp_path / "train", {"daisy": 2, "rose": 2, "tulip": 2})
    _write_jpegs(tmp_path / "val", {"daisy": 1, "rose": 1, "tulip": 1})
    train, val, names = q9.make_datasets(tmp_path / "train", tmp_path / "val",
                                         image_size=(20, 20), batch_size=8)
    assert names == ["daisy", "rose", "tulip"]
    images, labels = next(iter(val))
    assert images.shape == (3, 20, 20, 3) and labels.numpy().tolist() == [0, 1, 2]
    # Raw 0-255 pixels: the model's own Rescaling layer scales them.
    assert float(tf.reduce_max(images)) > 1.0
    model = q9.build_model(len(names), image_size=(20, 20))
    assert model.output_shape == (None, 3)


def _f1_by_confusion_matrix(y_true, y_pred, k):
    matrix = np.zeros((k, k))
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[t, p] += 1
    scores = []
    for c in range(k):
        tp, fp, fn = matrix[c, c], matrix[:, c].sum() - matrix[c, c], matrix[c].sum() - matrix[c, c]
        if tp + fp + fn:
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return float(np.mean(scores))


def test_hw2_macro_f1_matches_precision_and_recall_per_class(reference):
    hw2 = reference("hw2-mnist", "models.py")
    assert hw2.macro_f1([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(7 / 9)
    assert hw2.macro_f1([1, 1], [1, 1]) == 1.0  # absent classes do not count
    rng = np.random.default_rng(4)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
        assert hw2.macro_f1(y_true, y_pred) == pytest.approx(
            _f1_by_confusion_matrix(y_true, y_pred, 10))
    with pytest.raises(ValueError, match="macro_f1"):
        hw2.macro_f1([0, 1], [0])


def test_hw2_builders_take_the_learning_rate_and_fix_the_texts_loss(reference):
    hw2 = reference("hw2-mnist", "models.py")
    for build in hw2.BUILDERS.values():
        for lr in hw2.LEARNING_RATES:
            model = build(lr)
            assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(lr)
            assert model.loss.get_config()["from_logits"] is False
            assert model.layers[-1].activation.__name__ == "softmax"
    stop = hw2.early_stopping(3)
    assert (stop.monitor, stop.patience, stop.restore_best_weights) == ("val_loss", 3, True)


def test_practical2_trains_every_model_with_the_one_set_of_hyper_parameters(reference):
    cnn = reference("practical2", "cnn.py")
    for number in (1, 2, 3, 4):
        model = cnn.build_model(number)
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(
            cnn.TRAINING["learning_rate"])
        assert model.loss == cnn.TRAINING["loss"]
    with pytest.raises(ValueError, match="MODEL_NUMBER must be 1, 2, 3 or 4"):
        cnn.build_model(5)


def test_q6_and_q7_preprocess_to_unit_range_with_integer_labels(reference):
    q6, q7 = reference("ds-ag-021", "q6_mnist_cnn.py"), reference("ds-ag-021", "q7_cifar10_cnn.py")
    x, y = q6.preprocess(np.full((2, 28, 28), 255, np.uint8), np.array([4, 9]))
    assert x.shape == (2, 28, 28, 1) and x.max() == 1.0 and y.tolist() == [4, 9]
    x, y = q7.preprocess(np.zeros((2, 32, 32, 3), np.uint8), np.array([[1], [2]]))
    assert x.shape == (2, 32, 32, 3) and y.tolist() == [1, 2] and y.dtype == np.int64
    with pytest.raises(ValueError, match="32, 32, 3"):
        q7.preprocess(np.zeros((2, 28, 28), np.uint8), np.array([1, 2]))


def test_vgg16_refuses_to_download_weights(reference):
    cats = reference("cs577-a4", "cats_dogs.py")
    with pytest.raises(ValueError, match="nothing may download"):
        cats.build_vgg16_frozen("imagenet")
