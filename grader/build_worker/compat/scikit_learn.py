"""Keras 2's ``keras.wrappers.scikit_learn``, served to student code by the import hook.

Keras 2 took ``KerasClassifier(build_fn=make_model, epochs=5, units=64)``: one bag of
``sk_params`` shared out between ``build_fn`` and ``fit`` by their signatures. Keras 3's
``keras.wrappers.SKLearnClassifier`` takes ``model=``, ``model_kwargs=`` and
``fit_kwargs=`` and a build function that also takes X and y, so the old calls cannot
be forwarded to it; these two small estimators keep the old contract on scikit-learn's
and keras.Model's public APIs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

__all__ = ["KerasClassifier", "KerasRegressor"]


class _Keras2Estimator(BaseEstimator):
    def __init__(self, build_fn: Callable[..., Any] | None = None, **sk_params: Any) -> None:
        self.build_fn = build_fn
        self.sk_params = sk_params

    # scikit-learn reads parameters from __init__'s signature, which has **sk_params
    # here; clone() and GridSearchCV only need these two methods to agree.
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"build_fn": self.build_fn, **self.sk_params}

    def set_params(self, **params: Any) -> _Keras2Estimator:
        self.build_fn = params.pop("build_fn", self.build_fn)
        self.sk_params.update(params)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _builder(self) -> Callable[..., Any]:
        # Keras 2 also let a subclass define __call__ instead of passing build_fn.
        return self.build_fn if self.build_fn is not None else self.__call__

    def _taken_by(self, function: Callable[..., Any], overrides: dict[str, Any]
                  ) -> dict[str, Any]:
        names = inspect.signature(function).parameters
        params = {**self.sk_params, **overrides}
        return {k: v for k, v in params.items() if k in names and k not in ("x", "y")}

    def _build(self) -> Any:
        build = self._builder()
        self.model = build(**self._taken_by(build, {}))
        return self.model

    def _fit(self, x: Any, y: Any, kwargs: dict[str, Any]) -> Any:
        import keras

        return self.model.fit(x, y, **self._taken_by(keras.Model.fit, kwargs))

    def _predict(self, x: Any, kwargs: dict[str, Any]) -> Any:
        import keras

        return self.model.predict(x, **{"verbose": 0,
                                        **self._taken_by(keras.Model.predict, kwargs)})


class KerasClassifier(ClassifierMixin, _Keras2Estimator):
    """Keras 2's scikit-learn classifier: ``build_fn`` returns a compiled model."""

    def fit(self, x: Any, y: Any, **kwargs: Any) -> Any:
        """Trains a fresh model; returns its History, as Keras 2 did."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:  # already one-hot
            self.classes_ = np.arange(y.shape[1])
            index = y.argmax(axis=1)
        else:
            self.classes_, index = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        import keras

        loss = self._build().loss
        # As in Keras 2: one-hot targets only for a categorical cross-entropy.
        name = loss if isinstance(loss, str) else getattr(loss, "name", "")
        one_hot = name == "categorical_crossentropy"
        return self._fit(x, keras.utils.to_categorical(index, self.n_classes_) if one_hot
                         else index, kwargs)

    def predict_proba(self, x: Any, **kwargs: Any) -> Any:
        proba = np.asarray(self._predict(x, kwargs))
        return np.hstack([1 - proba, proba]) if proba.shape[-1] == 1 else proba

    def predict(self, x: Any, **kwargs: Any) -> Any:
        proba = self.predict_proba(x, **kwargs)
        return self.classes_[proba.argmax(axis=-1)]


class KerasRegressor(RegressorMixin, _Keras2Estimator):
    """Keras 2's scikit-learn regressor: ``build_fn`` returns a compiled model."""

    def fit(self, x: Any, y: Any, **kwargs: Any) -> Any:
        """Trains a fresh model; returns its History, as Keras 2 did."""
        self._build()
        return self._fit(x, y, kwargs)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        out = np.asarray(self._predict(x, kwargs))
        return out[..., 0] if out.shape[-1] == 1 else out
