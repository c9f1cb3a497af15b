"""A Colab notebook as handed in: Drive, pip, magics, a cell that fails, and later
cells that still build, train and capture a model."""

from __future__ import annotations

import pytest
from harness_helpers import layer_classes, write_notebook

from grader.build_worker.harness import NotebookError, Source

COLAB_NOTEBOOK = [
    ("markdown", "# HW4 part 2: cats and dogs"),
    ("code", """
        from google.colab import drive
        drive.mount('/content/drive')
     """),
    ("code", """
        !pip install -q tensorflow==2.15
        %matplotlib inline
        import numpy as np
        import pandas as pd
        import matplotlib.pyplot as plt
     """),
    ("markdown", "Load the labels"),
    ("code", """
        import tensorflow as tf
        labels = pd.read_csv('/content/drive/MyDrive/hw4/labels.csv')
        print(labels.head())
     """),
    ("code", """
        from keras.layers.normalization import BatchNormalization
        from keras.utils.np_utils import to_categorical
     """),
    ("code", """
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        train_datagen = ImageDataGenerator(rescale=1./255, rotation_range=40,
                                           zoom_range=0.2, horizontal_flip=True)
        train_generator = train_datagen.flow_from_directory(
            '/content/drive/MyDrive/cats_and_dogs_small/train',
            target_size=(150, 150), batch_size=20, class_mode='binary')
     """),
    ("code", """
        from tensorflow.keras import layers, models
        model = models.Sequential()
        model.add(layers.Input((150, 150, 3)))
        model.add(layers.Conv2D(32, (3, 3), activation='relu'))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation='sigmoid'))
        model.compile(loss='binary_crossentropy',
                      optimizer=tf.keras.optimizers.RMSprop(learning_rate=1e-4),
                      metrics=['acc'])
     """),
    ("code", """
        %%time
        history = model.fit(train_generator, steps_per_epoch=100, epochs=30)
     """),
    ("code", """
        %%writefile app.py
        GREETING = "hello from app.py"
     """),
    ("code", """
        import app
        print(app.GREETING)
     """),
    ("code", """
        %%bash
        ls -la /content
     """),
    ("code", """
        acc = history.history['acc']
        plt.plot(range(1, len(acc) + 1), acc, 'bo')
        plt.show()
        answer = input('continue? ')
     """),
]


def test_a_colab_notebook_runs_past_its_failing_cells_and_captures_the_model(run_notebook,
                                                                             submission):
    report = run_notebook(COLAB_NOTEBOOK, name="hw4-2.ipynb")

    # Every failing statement is reported, the cell's next line (which needed the CSV)
    # as following from the first; both failing imports, not only the first one.
    assert [(str(f.where), f.kind, f.error) for f in report.failures] == [
        ("hw4-2.ipynb code cell 3 line 2", "error", "FileNotFoundError"),
        ("hw4-2.ipynb code cell 3 line 3", "error", "NameError"),
        ("hw4-2.ipynb code cell 4 line 1", "error", "ModuleNotFoundError"),
        ("hw4-2.ipynb code cell 4 line 2", "error", "ModuleNotFoundError"),
    ]
    missing_csv, name_error, _, np_utils = report.failures
    assert str(name_error.follows) == "hw4-2.ipynb code cell 3 line 2"
    assert name_error.describe().endswith("(because hw4-2.ipynb code cell 3 line 2 failed)")
    assert "keras.utils.np_utils" in np_utils.message
    assert "labels.csv" in missing_csv.message
    assert missing_csv.statement.startswith("labels = pd.read_csv(")
    assert 'File "hw4-2.ipynb code cell 3", line 2' in missing_csv.traceback
    assert missing_csv.describe().startswith("hw4-2.ipynb code cell 3 line 2: FileNotFoundError")

    [captured] = report.models
    assert captured.name == "model"
    assert str(captured.built_at) == "hw4-2.ipynb code cell 6 line 2"
    assert layer_classes(captured.model) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert captured.event_kinds == ["built", "compiled", "fit"]
    assert captured.compile["optimizer"] == "RMSprop"
    assert captured.compile["learning_rate"] == pytest.approx(1e-4)
    assert captured.compile["metrics"] == ["acc"]
    [fit] = captured.fits
    assert fit["epochs"] == 30 and fit["steps_per_epoch"] == 100
    assert fit["batch_size"] == 20  # the generator's
    assert str(captured.events[2].at) == "hw4-2.ipynb code cell 7 line 2"
    assert fit["x"]["kind"] == "DirectoryIterator"
    assert fit["generator"]["made_by"] == "ImageDataGenerator.flow_from_directory"
    assert fit["generator"]["augmentation"] == {
        "rescale": pytest.approx(1 / 255), "rotation_range": 40, "zoom_range": 0.2,
        "horizontal_flip": True}
    assert fit["generator"]["directory"] == "/content/drive/MyDrive/cats_and_dogs_small/train"
    assert fit["generator"]["synthetic"] is True
    assert fit["generator"]["target_size"] == [150, 150]
    assert len(report.namespace["acc"]) == 30
    assert report.namespace["answer"] == ""

    assert (submission / "app.py").read_text().strip() == 'GREETING = "hello from app.py"'
    assert "hello from app.py" in report.stdout
    notes = "\n".join(report.notes)
    assert "google.colab.drive.mount('/content/drive'): did nothing" in notes
    assert "shell commands did not run" in notes and "!pip install -q" in notes
    assert "line magic %matplotlib did not run (IPython only): `%matplotlib inline` " \
           "(hw4-2.ipynb code cell 2 line 2)" in notes
    assert "cell magic %%time: its body ran once, as Python (hw4-2.ipynb code cell 7)" in notes
    assert "%%writefile app.py: the cell's body was written to app.py" in notes
    assert "cell magic %%bash: cell skipped" in notes
    assert ("ImageDataGenerator.flow_from_directory('/content/drive/MyDrive/cats_and_dogs_"
            "small/train'): that folder is not here; a synthetic tree of 2 classes") in notes
    assert "input(): answered with an empty string" in notes


def test_a_notebook_that_is_not_json_is_named_in_the_error(submission):
    broken = submission / "hw4-2.ipynb"
    broken.write_text('{"cells": [ {"cell_type": "code", "source": "x = 1"')

    with pytest.raises(NotebookError, match=r"^hw4-2\.ipynb: not a notebook the grader can read"):
        Source.notebook(broken, "hw4-2.ipynb")


def test_code_cells_are_numbered_among_code_cells_only(submission):
    path = write_notebook(submission / "nb.ipynb", [("markdown", "intro"), ("code", "a = 1"),
                                                    ("markdown", "more"), ("code", "b = 2")])
    source = Source.notebook(path, "Cats&Dogs.ipynb")

    assert [(c.number, c.text) for c in source.cells] == [(1, "a = 1"), (2, "b = 2")]
    assert source.shown_as == "Cats&Dogs.ipynb"
