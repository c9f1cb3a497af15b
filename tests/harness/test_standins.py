"""The stand-ins answer like the real thing, record what was asked, and are gone when
the run ends."""

from __future__ import annotations

import builtins
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

from grader.build_worker.harness import Source, run_source


def test_the_stand_ins_are_removed_and_code_called_later_trains_for_real(run_notebook):
    generator_class = tf.keras.preprocessing.image.ImageDataGenerator
    before = {
        "fit": keras.Model.fit, "evaluate": keras.Model.evaluate,
        "predict": keras.Model.predict, "compile": keras.Model.compile,
        "init": keras.Model.__init__, "train_on_batch": keras.Model.train_on_batch,
        "input": builtins.input, "show": plt.show, "pause": plt.pause,
        "mnist": keras.datasets.mnist.load_data,
        "tf mnist": tf.keras.datasets.mnist.load_data,
        "get_file": keras.utils.get_file,
        "from_directory": keras.utils.image_dataset_from_directory,
        "flow_from_directory": generator_class.flow_from_directory,
        "generator init": generator_class.__init__,
        "stdout": sys.stdout, "stderr": sys.stderr, "argv": list(sys.argv),
        "meta_path": list(sys.meta_path), "path": list(sys.path),
    }
    own_attributes = set(keras.Model.__dict__)

    report = run_notebook([("code", """
        from google.colab import drive
        from IPython.display import display, Image
        import keras
        import numpy as np
        drive.mount('/content/drive')
        display(Image('plot.png'))

        def build():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
            return model

        stood_in = build().fit(np.ones((8, 4)), np.ones(8), epochs=2, verbose=0)
    """)])

    assert report.failures == []
    after = {
        "fit": keras.Model.fit, "evaluate": keras.Model.evaluate,
        "predict": keras.Model.predict, "compile": keras.Model.compile,
        "init": keras.Model.__init__, "train_on_batch": keras.Model.train_on_batch,
        "input": builtins.input, "show": plt.show, "pause": plt.pause,
        "mnist": keras.datasets.mnist.load_data,
        "tf mnist": tf.keras.datasets.mnist.load_data,
        "get_file": keras.utils.get_file,
        "from_directory": keras.utils.image_dataset_from_directory,
        "flow_from_directory": generator_class.flow_from_directory,
        "generator init": generator_class.__init__,
        "stdout": sys.stdout, "stderr": sys.stderr, "argv": list(sys.argv),
        "meta_path": list(sys.meta_path), "path": list(sys.path),
    }
    assert after == before
    assert set(keras.Model.__dict__) == own_attributes  # an inherited fit stays inherited
    for name in ("google.colab", "google.colab.drive", "IPython", "IPython.display",
                 "student_notebook"):
        assert name not in sys.modules
    assert not hasattr(sys.modules.get("google"), "colab")

    # The stand-in trained nothing; the same builder called now trains for real.
    [stood_in] = report.models
    assert int(stood_in.model.optimizer.iterations.numpy()) == 0
    assert len(report.namespace["stood_in"].history["loss"]) == 2
    model = report.namespace["build"]()
    history = model.fit(np.ones((8, 4), "float32"), np.zeros(8, "float32"), epochs=2,
                        verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    assert report.namespace["__grader_harness__"].returned(5, "f") == 5


@pytest.mark.parametrize("module", [keras.datasets, tf.keras.datasets],
                         ids=["keras", "tf.keras"])
def test_dataset_loaders_give_small_synthetic_data_of_the_real_shapes(run_script, module):
    report = run_script("""
        import keras
        import tensorflow as tf
        loaded = {name: DATASETS.__dict__[name].load_data()
                  for name in ("mnist", "fashion_mnist", "cifar10", "cifar100")}
        coarse = DATASETS.cifar100.load_data(label_mode="coarse")
    """, overrides={"DATASETS": module})

    assert report.failures == []
    loaded = report.namespace["loaded"]
    for name, (image, label_dtype, label_tail, classes) in {
            "mnist": ((28, 28), np.uint8, (), 10),
            "fashion_mnist": ((28, 28), np.uint8, (), 10),
            "cifar10": ((32, 32, 3), np.uint8, (1,), 10),
            "cifar100": ((32, 32, 3), np.int64, (1,), 100)}.items():
        (x_train, y_train), (x_test, y_test) = loaded[name]
        assert x_train.shape == (64, *image) and x_test.shape == (32, *image), name
        assert x_train.dtype == np.uint8
        assert y_train.shape == (64, *label_tail) and y_test.shape == (32, *label_tail)
        assert y_train.dtype == label_dtype and y_test.dtype == label_dtype
        assert y_train.max() == classes - 1
        if classes == 10:
            assert set(np.unique(y_train)) == set(range(10))
    assert report.namespace["coarse"][0][1].max() == 19
    assert sum(n.startswith("keras.datasets.") for n in report.notes) == 4


def test_evaluate_predict_and_train_on_batch_answer_as_keras_would(run_script):
    report = run_script("""
        import keras
        import numpy as np
        x = np.zeros((20, 6), "float32")
        y = np.zeros(20, "int64")
        plain = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        plain.compile("sgd", "mse")
        scalar = plain.evaluate(x, np.zeros((20, 3)))
        linear = plain.predict(x)

        clf = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="softmax")])
        clf.compile("adam", "sparse_categorical_crossentropy",
                    metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2)])
        untrained = clf.evaluate(x, y)
        history = clf.fit(x, y, epochs=4, validation_data=(x, y))
        scores = clf.evaluate(x, y)
        as_dict = clf.evaluate(x, y, return_dict=True)
        probabilities = clf.predict(x, batch_size=5)
        for i in range(3):
            step = clf.train_on_batch(x[:4], y[:4])
        batches = clf.predict(keras.utils.timeseries_dataset_from_array(
            x, None, sequence_length=1, batch_size=7).map(lambda b: b[:, 0]))
    """)

    assert report.failures == []
    ns = report.namespace
    assert isinstance(ns["scalar"], float)
    assert ns["linear"].shape == (20, 3) and not ns["linear"].any()
    assert isinstance(ns["untrained"], list) and len(ns["untrained"]) == 3
    assert ns["untrained"][0] == pytest.approx(np.log(4), abs=1e-3)
    assert ns["untrained"][1] == pytest.approx(0.25)
    assert sorted(ns["history"].history) == [
        "accuracy", "loss", "sparse_top_k_categorical_accuracy", "val_accuracy", "val_loss",
        "val_sparse_top_k_categorical_accuracy"]
    assert ns["history"].params["epochs"] == 4
    loss = ns["history"].history["loss"]
    assert loss == sorted(loss, reverse=True) and all(np.isfinite(loss))
    assert ns["scores"][0] == ns["history"].history["val_loss"][-1]
    assert list(ns["as_dict"]) == ["loss", "accuracy", "sparse_top_k_categorical_accuracy"]
    assert ns["probabilities"].shape == (20, 4)
    assert np.allclose(ns["probabilities"], 0.25)
    assert isinstance(ns["step"], list) and len(ns["step"]) == 3
    assert ns["batches"].shape == (20, 4)
    clf = next(m for m in report.models if m.name == "clf")
    assert clf.event_kinds == ["built", "compiled", "evaluated", "fit", "predicted",
                               "trained_on_batch"]
    assert next(e for e in clf.events if e.kind == "trained_on_batch").calls == 3
    assert clf.fits[0]["validation"] == {"data": [{"shape": [20, 6], "dtype": "float32"},
                                                  {"shape": [20], "dtype": "int64"}]}


def test_fit_before_compile_fails_like_keras_and_the_model_is_still_captured(run_script):
    report = run_script("""
        import keras
        import numpy as np
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.fit(np.zeros((4, 2)), np.zeros(4), epochs=3)
    """)

    [failure] = report.failures
    assert failure.error == "ValueError" and "compile()" in failure.message
    assert [m.name for m in report.models] == ["model"]


def test_callbacks_see_the_epochs_and_a_checkpoint_writes_its_file(run_script, submission):
    report = run_script("""
        import keras
        import numpy as np
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["acc"])
        callbacks = [keras.callbacks.ModelCheckpoint("best.keras", monitor="val_acc",
                                                     save_best_only=True),
                     keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)]
        history = model.fit(np.zeros((10, 2)), np.zeros(10), epochs=5, validation_split=0.2,
                            callbacks=callbacks, workers=4)
        best = keras.models.load_model("best.keras")
        best_scores = best.evaluate(np.zeros((10, 2)), np.zeros(10))
    """)

    assert report.failures == []
    assert (submission / "best.keras").is_file()
    model = next(m for m in report.models if m.name == "model")
    [fit] = model.fits
    assert fit["callbacks"] == ["ModelCheckpoint", "EarlyStopping"]
    assert fit["epochs_run"] == 5 and fit["validation"] == {"split": 0.2}
    assert fit["ignored"] == {"workers": "4"}
    assert any("fit(workers=...): Keras 3 takes no such argument" in n for n in report.notes)
    assert [m.name for m in report.models] == ["model", "best"]
    assert str(report.models[1].built_at) == "train.py line 10"
    # load_model compiled it as Keras does (the stand-in compile is no "custom" compile)
    assert report.models[1].event_kinds == ["built", "compiled", "evaluated"]
    assert len(report.namespace["best_scores"]) == 2


def test_a_missing_image_folder_reads_a_synthetic_tree(run_script, tmp_path):
    report = run_script(r"""
        import keras
        train = keras.utils.image_dataset_from_directory(
            "C:\\Users\\student\\Desktop\\flowers\\train", image_size=(64, 64),
            class_names=["daisy", "rose", "tulip"], batch_size=4)
        images, labels = next(iter(train))
        model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Flatten(), keras.layers.Dense(3)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(train.prefetch(2), epochs=2)
    """)

    assert report.failures == []
    ns = report.namespace
    assert ns["train"].class_names == ["daisy", "rose", "tulip"]
    assert tuple(ns["images"].shape) == (4, 64, 64, 3)
    assert any(n.startswith("keras.utils.image_dataset_from_directory('C:\\\\Users\\\\student"
                            "\\\\Desktop\\\\flowers\\\\train'): that folder is not here; a "
                            "synthetic tree of 3 classes x 8 images stood in")
               for n in report.notes)
    assert (tmp_path / "scratch" / "synthetic_image_folders").is_dir()
    [model] = report.models
    assert model.compile["loss"] == "sparse_categorical_crossentropy"
    assert model.fits[0]["x"]["kind"] == "_PrefetchDataset"
    assert model.fits[0]["x"]["element"][0] == {"shape": [None, 64, 64, 3], "dtype": "float32"}


def test_runs_do_not_nest(run_script, submission, tmp_path):
    report = run_script("""
        from pathlib import Path
        from grader.build_worker.harness import Source, run_source
        try:
            run_source(Source.script(Path("train.py")), scratch=Path("inner"))
        except RuntimeError as exc:
            refused = str(exc)
    """)

    assert "already running" in report.namespace["refused"]
    assert run_source(Source.script(submission / "train.py"), scratch=tmp_path / "again") \
        .failures == []
