"""A Keras 2 compatibility layer for the build worker.

Submissions written for Keras 2, tf.keras 2.x or TensorFlow 1 fail on Keras 3 for
reasons that are not modelling mistakes (a moved module, ``Adam(lr=...)``,
``fit_generator``, ``activation=tf.nn.softmax``). ``install()``, called once before any
student code runs, makes those spellings work through public APIs only, and records
each use once as a note that gives the Keras 3 spelling: a note is not a failure.

    compat = install()
    ...  # import and call student code
    compat.notes()  # ["keras.layers.core is Keras 2; in Keras 3 write keras.layers.Dense ..."]

What is covered, and how (each part's module says more):

- moved modules (`moved`, `aliases`): an import hook serves alias modules;
- arguments and methods (`arguments`): wrappers of optimizers' and keras.Model's methods;
- TensorFlow functions as activations (`activations`): translated to Keras names;
- messages for what no alias can serve (`messages`): `describe_missing_import` and
  `explain_unsaveable`.
"""

from __future__ import annotations

from grader.build_worker.compat import activations, arguments
from grader.build_worker.compat.aliases import Aliases
from grader.build_worker.compat.messages import describe_missing_import, explain_unsaveable
from grader.build_worker.compat.notes import Compat
from grader.build_worker.compat.patches import Patches

__all__ = ["Compat", "describe_missing_import", "explain_unsaveable", "install", "uninstall"]

_installed: tuple[Compat, Patches, Aliases] | None = None


def install() -> Compat:
    """Installs the layer (once: a second call returns the same Compat)."""
    global _installed
    if _installed is not None:
        return _installed[0]
    compat, patches = Compat(), Patches()
    aliases = Aliases(compat)
    try:
        aliases.install(patches)
        arguments.install(compat, patches)
        activations.install(compat, patches)
    except BaseException:
        aliases.uninstall()
        patches.undo()
        raise
    _installed = (compat, patches, aliases)
    return compat


def uninstall() -> None:
    """Removes everything `install` added: the import hook, the modules it served (from
    sys.modules and their parents), and every wrapper. A no-op when not installed."""
    global _installed
    if _installed is None:
        return
    _, patches, aliases = _installed
    aliases.uninstall()
    patches.undo()
    _installed = None
