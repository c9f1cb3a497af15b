"""Stand-ins for the desk a student ran their code at: screen, keyboard, Colab, Jupyter.

- matplotlib draws on the Agg backend; ``pyplot.show()`` shows nothing and closes the
  figures (as closing the window would), ``pyplot.pause()`` does not wait.
- ``input()`` answers "" at once (there is no keyboard when grading).
- ``google.colab`` is importable: ``drive.mount()`` does nothing (paths under the
  drive are then missing, and the image-folder stand-ins take over),
  ``files.upload()`` uploads nothing, ``patches.cv2_imshow`` shows nothing.
- ``IPython.display``: ``display``, ``Image``, ``HTML``, ``Markdown``, ``clear_output``
  ... do nothing; when IPython is not installed, a stand-in module is importable.
  A notebook also finds ``display`` and ``get_ipython`` already defined, as in Jupyter;
  ``get_ipython()`` answers every call with None (``.system("pip install x")``), but
  ``run_cell_magic("writefile", ...)`` writes the file like the ``%%writefile`` cell.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.patches import Patches


def _nothing(note: Callable[[], None], value: Any = None) -> Callable[..., Any]:
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        note()
        return value

    return stand_in


def _module(name: str, doc: str, **attrs: Any) -> ModuleType:
    module = ModuleType(name, doc)
    module.__dict__.update(attrs)
    return module


class _StandInModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves stand-in modules when the student imports them, and only then: libraries
    that test ``sys.modules`` for Colab or IPython must not think they run there."""

    def __init__(self, modules: dict[str, ModuleType]) -> None:
        self.modules = modules
        self.served: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.modules:
            return None
        is_package = any(other.startswith(fullname + ".") for other in self.modules)
        return importlib.util.spec_from_loader(fullname, self, is_package=is_package)

    def create_module(self, spec: Any) -> ModuleType:
        self.served.append(spec.name)
        return self.modules[spec.name]

    def exec_module(self, module: ModuleType) -> None:
        pass

    def install(self, patches: Patches) -> None:
        sys.meta_path.insert(0, self)
        patches.defer(self.uninstall)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for name in reversed(self.served):
            if sys.modules.get(name) is self.modules[name]:
                del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if parent and getattr(sys.modules.get(parent), child, None) is self.modules[name]:
                delattr(sys.modules[parent], child)
        self.served.clear()


class Environment:
    def __init__(self, notes: Notes, writefile: Callable[[str, str, bool, Any], None]) -> None:
        self.notes = notes
        self._writefile = writefile

    def note(self, key: str, text: str) -> Callable[[], None]:
        return lambda: self.notes.add(key, text)

    # ------------------------------------------------------------------------ install

    def install(self, patches: Patches) -> None:
        self._matplotlib(patches)
        self._input(patches)
        self._colab(patches)
        self._ipython(patches)

    def _matplotlib(self, patches: Patches) -> None:
        if importlib.util.find_spec("matplotlib") is None:
            return
        import matplotlib

        previous = matplotlib.get_backend()
        if previous.lower() != "agg":
            matplotlib.use("Agg", force=True)

            def switch_back() -> None:
                try:
                    matplotlib.use(previous, force=True)
                except Exception:  # a GUI backend on a machine with no display
                    pass

            patches.defer(switch_back)
        import matplotlib.pyplot as plt

        def show(*args: Any, **kwargs: Any) -> None:
            self.notes.add("plt.show", "matplotlib.pyplot.show(): nothing is shown when "
                           "grading (the figures were drawn, then closed)")
            plt.close("all")

        patches.set(plt, "show", show)
        patches.set(plt, "pause", _nothing(self.note(
            "plt.pause", "matplotlib.pyplot.pause(): did not wait (nothing is shown)")))

    def _input(self, patches: Patches) -> None:
        def input(prompt: Any = "") -> str:  # noqa: A001 - it stands in for the builtin
            if prompt:
                sys.stdout.write(str(prompt))
            self.notes.add("input", "input(): answered with an empty string (there is no "
                           "keyboard when grading)")
            return ""

        patches.set(builtins, "input", input)

    def _colab(self, patches: Patches) -> None:
        try:
            if importlib.util.find_spec("google.colab") is not None:
                return  # on Colab itself
        except (ImportError, ValueError):
            pass

        def mount(mountpoint: Any = "/content/drive", *args: Any, **kwargs: Any) -> None:
            self.notes.add("drive.mount", f"google.colab.drive.mount({mountpoint!r}): did "
                           "nothing; the grader has no Google Drive, so files under it are "
                           "missing")

        drive = _module("google.colab.drive", "Stand-in: no Google Drive when grading.",
                        mount=mount, flush_and_unmount=_nothing(lambda: None))
        files = _module("google.colab.files", "Stand-in: no browser when grading.",
                        upload=_nothing(self.note("files.upload", "google.colab.files.upload()"
                                                  ": nothing uploaded (no browser when "
                                                  "grading)"), value={}),
                        download=_nothing(self.note("files.download",
                                                    "google.colab.files.download(): skipped")))
        colab_patches = _module("google.colab.patches", "Stand-in: nothing is shown.",
                                cv2_imshow=_nothing(self.note(
                                    "cv2_imshow", "google.colab.patches.cv2_imshow(): nothing "
                                    "is shown when grading")))
        output = _module("google.colab.output", "Stand-in: no notebook page.",
                         enable_custom_widget_manager=_nothing(lambda: None),
                         clear=_nothing(lambda: None))
        colab = _module("google.colab", "Stand-in for Colab's module when grading.",
                        drive=drive, files=files, patches=colab_patches, output=output)
        modules = {"google.colab": colab, "google.colab.drive": drive,
                   "google.colab.files": files, "google.colab.patches": colab_patches,
                   "google.colab.output": output}
        try:
            import google  # noqa: F401 - a namespace package when protobuf is installed
        except ImportError:
            modules["google"] = _module("google", "Stand-in namespace package.")
        _StandInModules(modules).install(patches)

    def display_functions(self) -> dict[str, Any]:
        shown = self.note("display", "IPython.display: nothing is displayed when grading")
        names = ("display", "clear_output", "update_display", "display_markdown",
                 "display_html", "display_png", "display_jpeg", "display_svg")
        objects = ("Image", "HTML", "Markdown", "Math", "Latex", "SVG", "JSON",
                   "Javascript", "Audio", "Video", "IFrame", "FileLink", "YouTubeVideo")
        made: dict[str, Any] = {n: _nothing(shown) for n in names}
        made.update({n: _nothing(lambda: None) for n in objects})
        return made

    def _ipython(self, patches: Patches) -> None:
        functions = self.display_functions()
        if importlib.util.find_spec("IPython") is not None:
            import IPython.display

            for name, value in functions.items():
                if hasattr(IPython.display, name):
                    patches.set(IPython.display, name, value)
            return
        display = _module("IPython.display", "Stand-in: nothing is displayed when grading.",
                          **functions)
        # Libraries look IPython up in sys.modules (matplotlib does); this one says it
        # is not running and is recent enough to need no help.
        ipython = _module("IPython", "Stand-in for IPython when grading.", display=display,
                          get_ipython=lambda: None, version_info=(9, 0, 0, ""))
        _StandInModules({"IPython": ipython, "IPython.display": display}).install(patches)

    # ---------------------------------------------------------------- notebook globals

    def shell(self) -> Any:
        """What ``get_ipython()`` returns in the run: a shell that does nothing."""
        environment = self

        class Shell:
            def run_cell_magic(self, name: str, line: str, cell: str) -> None:
                if name in ("writefile", "file"):
                    parts = line.split()
                    names = [p for p in parts if not p.startswith("-")]
                    if names:
                        environment._writefile(names[0], cell, "-a" in parts, None)
                        return
                environment.notes.add(f"shell {name}", f"get_ipython().run_cell_magic"
                                      f"({name!r}, ...): skipped")

            def __getattr__(self, name: str) -> Any:
                if name.startswith("__"):
                    raise AttributeError(name)
                return _nothing(environment.note(
                    f"shell {name}", f"get_ipython().{name}(...): skipped (IPython commands "
                    "and shell lines do not run when grading)"))

            def __repr__(self) -> str:
                return "<the grader's stand-in IPython shell>"

        return Shell()

    def notebook_globals(self) -> dict[str, Any]:
        shell = self.shell()
        return {"display": self.display_functions()["display"], "get_ipython": lambda: shell}
