"""Serving Keras 2 module paths from Keras 3: alias modules, the import hook that hands
them out, and ImageDataGenerator back on keras.preprocessing.image.

Three routes, because the old paths fail in three ways:

- gone (``keras.layers.normalization``, ``sklearn.cross_validation``): a finder on
  ``sys.meta_path`` serves an `AliasModule`;
- present but Keras 2 (``tensorflow.python.keras.*``, TensorFlow's frozen copy, which
  TensorFlow itself has already imported, so no finder is ever asked): a wrapper of
  ``builtins.__import__`` answers ``from ... import`` statements of student code only;
- present but missing a name (``keras.preprocessing.image.ImageDataGenerator``): a
  module ``__getattr__`` (PEP 562) on the real module.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grader.build_worker.compat.moved import PRIVATE_KERAS, Alias, resolve

if TYPE_CHECKING:
    from grader.build_worker.compat.notes import Compat
    from grader.build_worker.compat.patches import Patches

# Importers whose imports are never redirected: TensorFlow loads its own Keras 2 copy.
_FRAMEWORK_PACKAGES = ("tensorflow", "keras", "tf_keras", "tensorboard")
_IMAGE = "keras.preprocessing.image"
_TF_IMAGE = "tensorflow.keras.preprocessing.image"
_SHOWN_NAMES = 4


class AliasModule(types.ModuleType):
    """A gone module path whose names are looked up, on first use, in the modules that
    hold them now; it remembers which names were taken, for the note."""

    def __init__(self, alias: Alias, child: Callable[[str], AliasModule | None]) -> None:
        super().__init__(alias.name)
        self._compat_alias = alias
        self._compat_child = child
        self._compat_used: dict[str, str] = {}  # name -> its Keras 3 spelling
        self._compat_children: list[str] = []  # gone submodules served below it
        self._compat_star = False  # `from ... import *` asked for __all__

    def __getattr__(self, name: str) -> Any:
        # Dunders are the import system probing (__path__, __file__): never forwarded.
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        alias = self._compat_alias
        if name == "__all__":  # `from keras.layers.core import *`
            self._compat_star = True
            return sorted({n for s in alias.sources for n in dir(importlib.import_module(s))
                           if not n.startswith("_")})
        for index, source in enumerate(alias.sources):
            module = importlib.import_module(source)
            if hasattr(module, name):
                value = getattr(module, name)
                self._compat_used[name] = alias.spell(name, index)
                setattr(self, name, value)  # later lookups skip this method
                return value
        # `from keras.layers.experimental import preprocessing`: a gone submodule.
        child = self._compat_child(f"{alias.name}.{name}")
        if child is not None:
            return child
        raise AttributeError(f"module {alias.name!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return self.__getattr__("__all__")

    def note(self) -> str:
        alias = self._compat_alias
        if self._compat_star:
            stars = "; ".join(f"from {spelling} import *" for spelling in alias.spellings)
            return f"{alias.name} {alias.was}; {alias.now} write {stars}{alias.extra}"
        used = list(dict.fromkeys(self._compat_used.values()))
        if not used and self._compat_children:
            return ""  # imported only on the way to a child, which has its own note
        if not used:
            return (f"{alias.name} {alias.was}; {alias.now} import from "
                    f"{' or '.join(alias.spellings)}{alias.extra}")
        shown = ", ".join(used[:_SHOWN_NAMES])
        if len(used) > _SHOWN_NAMES:
            shown += f" and {len(used) - _SHOWN_NAMES} more"
        modules = " or ".join(dict.fromkeys(path.rsplit(".", 1)[0] for path in used))
        return f"{alias.name} {alias.was}; {alias.now} write {shown} (imported from {modules})" \
               f"{alias.extra}"


class Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The alias modules of one installation: the finder and loader for gone paths, the
    import redirect for TensorFlow's Keras 2 copy, and their removal."""

    def __init__(self, compat: Compat) -> None:
        self._compat = compat
        self._served: dict[str, AliasModule] = {}
        self._original_import: Callable[..., Any] = builtins.__import__
        self._active = True

    def module(self, name: str, exact: bool = False) -> AliasModule | None:
        """The alias module for ``name`` (made and noted once), or None; ``exact`` as for
        `resolve`."""
        if name in self._served:
            return self._served[name]
        alias = resolve(name, exact)
        if alias is None:
            return None
        module = AliasModule(alias, self.child)
        self._served[name] = module
        parent = self._served.get(name.rpartition(".")[0])
        if parent is not None:
            parent._compat_children.append(name)
        self._compat.note(("module", name), module.note)
        return module

    def child(self, name: str) -> AliasModule | None:
        return self.module(name, exact=True)

    # -- the finder: gone paths (keras.*, tensorflow.keras.*, sklearn.*)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not self._active or fullname.startswith(PRIVATE_KERAS) or resolve(fullname) is None:
            return None
        if self._exists(fullname, path, target):
            return None  # a real module wins: only what is gone is served
        # A package (empty __path__), so deeper gone paths can be imported below it.
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def _exists(self, fullname: str, path: Any, target: Any) -> bool:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            try:
                if find(fullname, path, target) is not None:
                    return True
            except (ImportError, ValueError):
                continue
        return False

    def create_module(self, spec: Any) -> types.ModuleType | None:
        return self.module(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: an alias module's names are looked up when used."""

    # -- the redirect: TensorFlow's frozen Keras 2 (tensorflow.python.keras.*)

    def redirected_import(self, name: str, globals: dict[str, Any] | None = None,
                          locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        # Only `from X import y` can be answered with another module: `import a.b.c`
        # binds the top package and walks its attributes, which stay TensorFlow's.
        # Cheapest test first: every import statement of the process comes through here.
        if (name.startswith(PRIVATE_KERAS) and level == 0 and fromlist and self._active
                and name[len(PRIVATE_KERAS):len(PRIVATE_KERAS) + 1] in ("", ".")):
            importer = (globals or {}).get("__name__") or ""
            if importer.split(".")[0] not in _FRAMEWORK_PACKAGES:
                module = self.module(name)
                if module is not None:
                    return module
        return self._original_import(name, globals, locals, fromlist, level)

    # -- keras.preprocessing.image: ImageDataGenerator and friends, from tf.keras

    def image_getattr(self, vanished: set[str]) -> Callable[[str], Any]:
        def __getattr__(name: str) -> Any:
            if name not in vanished:
                raise AttributeError(f"module {_IMAGE!r} has no attribute {name!r}")
            self._compat.note(("name", _IMAGE, name), _image_note(name))
            return getattr(importlib.import_module(_TF_IMAGE), name)

        return __getattr__

    # -- installation

    def install(self, patches: Patches) -> None:
        sys.meta_path.insert(0, self)
        patches.set(builtins, "__import__", self.redirected_import)
        image, tf_image = importlib.import_module(_IMAGE), importlib.import_module(_TF_IMAGE)
        if "__getattr__" not in vars(image):
            vanished = {n for n in dir(tf_image) if not n.startswith("_")} - set(dir(image))
            patches.set(image, "__getattr__", self.image_getattr(vanished))

    def uninstall(self) -> None:
        self._active = False  # a wrapper someone else stacked on ours now passes through
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for name, module in self._served.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
            parent, _, child = name.rpartition(".")
            owner = sys.modules.get(parent)
            if owner is not None and vars(owner).get(child) is module:
                delattr(owner, child)
        self._served.clear()


def _image_note(name: str) -> str:
    if name == "ImageDataGenerator":
        return (f"{_IMAGE}.ImageDataGenerator is Keras 2; Keras 3 dropped it from "
                f"{_IMAGE} and keeps it only as {_TF_IMAGE}.ImageDataGenerator "
                "(deprecated), which the grader used; the Keras 3 way is "
                "keras.utils.image_dataset_from_directory with augmentation layers such as "
                "keras.layers.RandomFlip")
    return f"{_IMAGE}.{name} is Keras 2; in Keras 3 write {_TF_IMAGE}.{name}"
