"""The metric, callback_config and param_count probes: hw2's macro_f1, accuracy and
early_stopping, practical2's trainable_parameter_count.

Unit tests judge hand-made outputs (no TensorFlow); one `grader check` grades a
submission holding a correct version of each function and typical mistakes."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from conftest import function_task, grade_functions

from grader.build_worker.probes import resolve
from grader.parent.probes import callback_config, make_arg, metric, param_count

WHERE = "models.py: macro_f1"


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return metric.prepare(tmp_path_factory.mktemp("metric"),
                          {"metric": "macro_f1", "num_classes": 10})


def _labels(call):
    return [np.load(arg["$npy"]) for arg in call.args]


def test_the_fixture_agrees_with_sklearn_and_every_class_occurs(cases):
    from sklearn.metrics import accuracy_score, f1_score

    for call, case in zip(cases.calls, cases.truth, strict=True):
        y_true, y_pred = _labels(call)
        assert set(y_true) == set(y_pred) == set(range(10))
        assert case["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
        assert case["weighted_f1"] == pytest.approx(
            f1_score(y_true, y_pred, average="weighted"))
        assert case["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))


def test_the_imbalanced_cases_tell_the_averages_apart(cases):
    # Otherwise a student returning another average would pass them.
    for case in cases.truth[1:]:
        for other in ("accuracy", "weighted_f1", "f1_of_macro_pr", "macro_recall"):
            assert abs(case["macro_f1"] - case[other]) > 0.01, (case["name"], other)
    assert len({round(c["macro_f1"], 6) for c in cases.truth}) == len(cases.truth)


def _judge(cases, key, scale=1.0, metric_name="macro_f1"):
    values = np.array([scale * c[key] for c in cases.truth])
    return metric.judge({"values": values}, cases.truth,
                        {"metric": metric_name, "num_classes": 10}, WHERE)


def test_exact_values_pass_and_each_average_mistake_is_named(cases):
    assert _judge(cases, "macro_f1")["state"] == "passed"
    for key, words in (("accuracy", "that is the accuracy"),
                       ("weighted_f1", "average='weighted'"),
                       ("f1_of_macro_pr", "harmonic mean of macro precision")):
        result = _judge(cases, key)
        assert result["state"] == "failed", key
        assert any(words in hint for hint in result["hints"]), (key, result["hints"])
        assert len(result["hints"]) == 1, result["hints"]
    percent = _judge(cases, "macro_f1", scale=100)
    assert percent["fraction"] == 0 and "not a percentage" in percent["hints"][0]


def test_weighted_f1_keeps_only_the_balanced_case_where_it_equals_macro(cases):
    assert _judge(cases, "weighted_f1")["fraction"] == pytest.approx(1 / 3)


def test_accuracy_mode_names_the_error_rate(cases):
    assert _judge(cases, "accuracy", metric_name="accuracy")["state"] == "passed"
    result = _judge(cases, "error_rate", metric_name="accuracy")
    assert result["fraction"] == 0 and "error rate" in result["hints"][0]
    assert "models.py: macro_f1: macro_f1(<y_true: 100 labels, balanced>" in result["message"]


def _callback(monitor="val_loss", mode="auto", patience=(2, 4), restore=True):
    out = {}
    for i, wait in enumerate(patience):
        for key, text in (("class", "EarlyStopping"), ("monitor", monitor), ("mode", mode)):
            out[f"{key}_{i}"] = np.frombuffer(text.encode(), np.uint8)
        out.update({f"patience_{i}": np.asarray(float(wait)),
                    f"restore_best_weights_{i}": np.asarray(float(restore)),
                    f"min_delta_{i}": np.asarray(0.0)})
    return out


ES = {"monitors": ["val_loss", "val_accuracy"], "patience": 4}


def _es(**kwargs):
    return callback_config.judge(_callback(**kwargs), [None, 4], ES, "models.py: early_stopping")


def test_callback_parts_score_a_third_each():
    assert _es()["state"] == "passed"
    assert _es(monitor="val_accuracy", mode="max")["state"] == "passed"
    on_loss = _es(monitor="loss")
    assert on_loss["fraction"] == pytest.approx(2 / 3)
    assert "monitor='val_loss'" in on_loss["hints"][0]
    assert "mode='max'" in _es(monitor="val_accuracy", mode="min")["hints"][0]
    assert _es(restore=False)["fraction"] == pytest.approx(2 / 3)
    fixed = _es(patience=(5, 5))
    assert fixed["fraction"] == pytest.approx(2 / 3)
    assert "patience=patience" in fixed["hints"][0]


def test_an_early_stopping_left_at_keras_defaults_earns_nothing():
    result = _es(patience=(0, 4), restore=False)
    assert result["state"] == "failed"
    # patience passed through but nothing else configured: not the defaults, some credit
    assert result["fraction"] == pytest.approx(1 / 3)
    assert _es(patience=(0, 0), restore=False)["fraction"] == 0


def test_parameter_counts_are_arithmetic_and_the_mistakes_differ(tmp_path):
    prepared = param_count.prepare(tmp_path, {})
    for case in prepared.truth:
        wrong = [case[k] for k in ("total", "non_trainable", "trainable_layers", "tensors")]
        assert case["trainable"] not in wrong and len(set(wrong)) == len(wrong)
    truth = prepared.truth
    ok = param_count.judge({"values": np.array([c["trainable"] for c in truth], float)},
                           truth, {}, "cnn.py: trainable_parameter_count")
    assert ok["state"] == "passed"
    total = param_count.judge({"values": np.array([c["total"] for c in truth], float)},
                              truth, {}, "cnn.py: trainable_parameter_count")
    assert total["fraction"] == 0 and "count_params()" in total["hints"][0]


def test_make_markers_name_only_grader_probe_factories():
    with pytest.raises(ValueError, match="only the grader's factories"):
        make_arg("os:system", ["true"], "x")
    # The parent's modules, a capture module and a private name are no factories either.
    for target in ("os:system", "grader.parent.probes:probe", "grader.parent.probes.a.b:f",
                   "grader.parent.probes.metric:", "grader.probesx.metric:numbers",
                   "grader.parent.probes.param_count:counts",
                   "grader.build_worker.probes.metric:numbers",
                   "grader.build_worker.probes.keras_objects:",
                   "grader.build_worker.probes.keras_objects:_private"):
        with pytest.raises(ValueError, match="only the grader's factories"):
            make_arg(target, [], "x")
        with pytest.raises(ValueError, match="only the grader's factories"):
            resolve({"$make": target, "args": []})


FUNCTIONS = textwrap.dedent('''
    import keras
    import numpy as np
    from sklearn.metrics import f1_score


    def _counts(y_true, y_pred, k=10):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        c = np.arange(k)[:, None]
        tp = ((y_pred == c) & (y_true == c)).sum(1)
        fp = ((y_pred == c) & (y_true != c)).sum(1)
        fn = ((y_pred != c) & (y_true == c)).sum(1)
        return tp, fp, fn


    def macro_f1(y_true, y_pred, num_classes=10):
        tp, fp, fn = _counts(y_true, y_pred, num_classes)
        return float(np.mean(2 * tp / (2 * tp + fp + fn)))


    def macro_f1_sklearn(y_true, y_pred, num_classes=10):
        return f1_score(y_true, y_pred, average="macro")


    def f1_as_accuracy(y_true, y_pred, num_classes=10):
        return f1_score(y_true, y_pred, average="micro")


    def f1_weighted(y_true, y_pred, num_classes=10):
        return f1_score(y_true, y_pred, average="weighted")


    def f1_percent(y_true, y_pred, num_classes=10):
        return 100 * macro_f1(y_true, y_pred)


    def f1_of_averages(y_true, y_pred, num_classes=10):
        tp, fp, fn = _counts(y_true, y_pred)
        p, r = np.mean(tp / (tp + fp)), np.mean(tp / (tp + fn))
        return 2 * p * r / (p + r)


    def f1_with_report(y_true, y_pred, num_classes=10):
        return macro_f1(y_true, y_pred), "per class"


    def accuracy(y_true, y_pred):
        return np.mean(np.asarray(y_true) == np.asarray(y_pred))


    def accuracy_percent(y_true, y_pred):
        return 100.0 * accuracy(y_true, y_pred)


    def error_rate(y_true, y_pred):
        return 1 - accuracy(y_true, y_pred)


    def early_stopping(patience=2):
        return keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             restore_best_weights=True)


    def es_on_training_loss(patience=2):
        return keras.callbacks.EarlyStopping(monitor="loss", patience=patience,
                                             restore_best_weights=True)


    def es_fixed_patience(patience=2):
        return keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)


    def es_defaults(patience=2):
        return keras.callbacks.EarlyStopping()


    def es_checkpoint(patience=2):
        return keras.callbacks.ModelCheckpoint("best.keras")


    def es_none(patience=2):
        keras.callbacks.EarlyStopping(patience=patience)


    def trainable_parameter_count(model):
        return int(sum(np.prod(w.shape) for w in model.trainable_weights))


    def count_params(model):
        return model.count_params()


    def count_weight_tensors(model):
        return len(model.trainable_weights)


    def count_trainable_layers(model):
        return sum(layer.count_params() for layer in model.layers if layer.trainable)
''')

METRIC_TASKS = {"f1": "macro_f1", "f1_sklearn": "macro_f1_sklearn",
                "f1_accuracy": "f1_as_accuracy", "f1_weighted": "f1_weighted",
                "f1_percent": "f1_percent", "f1_averages": "f1_of_averages",
                "f1_tuple": "f1_with_report"}
ACCURACY_TASKS = {"acc": "accuracy", "acc_percent": "accuracy_percent",
                  "acc_error": "error_rate"}
CALLBACK_TASKS = {"es": "early_stopping", "es_loss": "es_on_training_loss",
                  "es_fixed": "es_fixed_patience", "es_defaults": "es_defaults",
                  "es_checkpoint": "es_checkpoint", "es_none": "es_none"}
COUNT_TASKS = {"count": "trainable_parameter_count", "count_total": "count_params",
               "count_tensors": "count_weight_tensors",
               "count_layers": "count_trainable_layers"}


def _task(task_id, function, probe, params):
    return function_task(task_id, function, probe, params, file="functions.py", points=3)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tasks = [_task(t, f, "metric", {"metric": "macro_f1", "num_classes": 10})
             for t, f in METRIC_TASKS.items()]
    tasks += [_task(t, f, "metric", {"metric": "accuracy", "num_classes": 10})
              for t, f in ACCURACY_TASKS.items()]
    tasks += [_task(t, f, "callback_config", ES) for t, f in CALLBACK_TASKS.items()]
    tasks += [_task(t, f, "param_count", {}) for t, f in COUNT_TASKS.items()]
    return grade_functions(tmp_path_factory.mktemp("probe-metrics"), tasks,
                           {"functions.py": FUNCTIONS})


def _outcome(run, task):
    test = run.test(task, "outputs")
    return test["grader"]["state"], test["score"], test["output"]


def test_correct_functions_score_full_marks(graded):
    for task in ("f1", "f1_sklearn", "acc", "es", "count"):
        assert _outcome(graded, task)[:2] == ("passed", 3), _outcome(graded, task)
    assert graded.modules["imported"] == []  # the parent imported no TF, no student code


@pytest.mark.parametrize(("task", "score", "words"), [
    ("f1_accuracy", 0, "that is the accuracy"),
    ("f1_weighted", 1, "average='weighted'"),
    ("f1_percent", 0, "not a percentage"),
    ("f1_averages", 0, "harmonic mean of macro precision"),
    ("f1_tuple", 0, "returned tuple of 2 values; return the metric as one float"),
    ("acc_percent", 0, "not a percentage"),
    ("acc_error", 0, "that is the error rate"),
    ("es_loss", 2, "monitors 'loss'"),
    ("es_fixed", 2, "pass the function's `patience` argument"),
    ("es_defaults", 0, "does not restore the best weights"),
    ("es_checkpoint", 0, "returned ModelCheckpoint (a keras callback)"),
    ("count_total", 0, "model.count_params()"),
    ("count_tensors", 0, "how many weight tensors"),
    ("count_layers", 0, "moving mean and variance"),
])
def test_each_mistake_loses_points_with_its_fix(graded, task, score, words):
    state, got, output = _outcome(graded, task)
    assert state == "failed" and got == pytest.approx(score), (state, got, output)
    assert words in output


def test_a_callback_function_returning_none_is_not_implemented(graded):
    state, score, output = _outcome(graded, "es_none")
    assert state == "not_implemented" and score == 0
    assert "es_none() returned None; return a keras.callbacks.EarlyStopping" in output
