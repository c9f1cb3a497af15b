"""TensorFlow functions given as activations (``Dense(10, activation=tf.nn.softmax)``).

Keras 3 accepts any callable as an activation, but a .keras file can name only Keras'
own activations: ``tf.nn.softmax`` is stored as a bare Python function and the model
then loads only with ``safe_mode=False``, which the grader never uses. The fix is the
Keras name, so each public layer class that takes an activation gets its ``__init__``
wrapped to swap the TensorFlow function, found by identity, for that name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grader.build_worker.compat.patches import wraps

if TYPE_CHECKING:
    from grader.build_worker.compat.notes import Compat
    from grader.build_worker.compat.patches import Patches

# How a student writes the function, and the Keras 3 activation with the same maths.
# Aliases (tf.sigmoid is tf.nn.sigmoid) are the same object and need no entry of their own.
_TENSORFLOW_ACTIVATIONS = (
    ("tf.nn.softmax", "softmax"), ("tf.compat.v1.nn.softmax", "softmax"),
    ("tf.nn.log_softmax", "log_softmax"), ("tf.compat.v1.nn.log_softmax", "log_softmax"),
    ("tf.nn.relu", "relu"), ("tf.nn.relu6", "relu6"), ("tf.nn.leaky_relu", "leaky_relu"),
    ("tf.nn.elu", "elu"), ("tf.nn.selu", "selu"), ("tf.nn.gelu", "gelu"),
    ("tf.nn.silu", "silu"), ("tf.nn.swish", "silu"), ("tf.nn.sigmoid", "sigmoid"),
    ("tf.nn.tanh", "tanh"), ("tf.nn.softplus", "softplus"), ("tf.nn.softsign", "softsign"),
    ("tf.math.log_sigmoid", "log_sigmoid"), ("tf.math.exp", "exponential"),
    ("tf.identity", "linear"),
)
ARGUMENTS = ("activation", "recurrent_activation")


@functools.cache
def tensorflow_activations() -> dict[Any, tuple[str, str]]:
    """TensorFlow function -> (its name as written, the Keras activation name)."""
    import keras
    import tensorflow as tf

    table: dict[Any, tuple[str, str]] = {}
    for written, name in _TENSORFLOW_ACTIVATIONS:
        function: Any = tf
        for part in written.split(".")[1:]:
            function = getattr(function, part, None)
        if function is None or function in table:
            continue
        try:
            keras.activations.get(name)
        except ValueError:  # not in this Keras: leave the function alone
            continue
        table[function] = (written, name)
    return table


def keras_name(value: Any) -> tuple[str, str] | None:
    """(how it was written, the Keras name) when ``value`` is a TensorFlow function that
    has a Keras activation, else None."""
    try:
        return tensorflow_activations().get(value)
    except TypeError:  # unhashable: a config dict, say, which Keras reads itself
        return None


def install(compat: Compat, patches: Patches) -> None:
    import keras

    seen: set[type] = set()
    for attribute in dir(keras.layers):
        cls = getattr(keras.layers, attribute)
        if (not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer)
                or cls in seen or "__init__" not in vars(cls)):
            continue
        seen.add(cls)
        parameters = inspect.signature(cls.__init__).parameters
        slots = {}
        for argument in ARGUMENTS:
            if argument in parameters:
                positional = parameters[argument].kind in (
                    inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                # The index in *args, which does not hold self.
                slots[argument] = list(parameters).index(argument) - 1 if positional else None
        if slots:
            patches.set(cls, "__init__", _translating(vars(cls)["__init__"], slots, compat))


def _translating(init: Callable[..., None], slots: dict[str, int | None], compat: Compat
                 ) -> Callable[..., None]:
    def translate(argument: str, value: Any) -> Any:
        found = keras_name(value)
        if found is None:
            return value
        written, name = found
        compat.note(("activation", written), f"{argument}={written}: a TensorFlow function "
                    "cannot be stored in a .keras file (the model would not load in safe "
                    f"mode); Keras 3 spells it {argument}=\"{name}\"")
        return name

    @wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        for argument, index in slots.items():
            if argument in kwargs:
                kwargs[argument] = translate(argument, kwargs[argument])
            elif index is not None and index < len(args):
                args = (*args[:index], translate(argument, args[index]), *args[index + 1:])
        init(self, *args, **kwargs)

    return __init__
