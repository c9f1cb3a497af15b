"""Execute-and-capture: run a student's whole script or notebook, keep every model.

Real submissions load data, build, compile, fit, evaluate and plot at top level. This
package runs such a file inside the build worker (the only process that runs student
code) with nothing trained, nothing downloaded and nothing shown, and reports every
model it built and where it came from. What scores is still computed elsewhere, from
the saved model, by the verify worker.

API
---
::

    from grader.build_worker.harness import Source, run_source

    report = run_source(Source.script("cnn.py", "cnn.py"), {"MODEL_NUMBER": 2},
                        scratch=Path("scratch"), statement_timeout_s=60)
    report.models      # [Captured]: .model (live), .name, .built_at, .compile, .fits, ...
    report.failures    # [Failure]: .where, .error, .message, .raised_at, .describe()
    report.notes       # ["keras.datasets.fashion_mnist.load_data(): 64 synthetic ...", ...]
    report.namespace   # the module namespace: report.namespace["build_model"](3)

- ``Source.script(path, shown_as)``: a .py file; ``Source.notebook(path, shown_as)``:
  the code cells of a .ipynb (NotebookError, naming the file, when it cannot be read).
  ``shown_as`` is the student's name for the file; every location is written with it:
  ``cnn.py line 21``, ``hw4-2.ipynb code cell 3 line 2`` (code cells counted from 1,
  markdown cells not counted).
- ``run_source(source, overrides=None, *, scratch, statement_timeout_s=None,
  output_limit=65536, max_models=100) -> RunReport``. Runs in the calling process,
  in its working directory (the worker's scratch copy of the submission); ``scratch``
  is where synthetic folders are made. Not reentrant (the stand-ins are process-wide).
- ``RunReport``: ``source`` (the shown name), ``overrides``, ``models``,
  ``failures``, ``notes`` (each once, in order), ``namespace``, ``stdout`` /
  ``stderr`` (cut to ``output_limit`` each, head and tail kept), ``printed``
  (characters written to each before cutting), ``statements`` (run, failed ones
  included), ``seconds``; ``describe()`` for a person.
- ``Failure``: ``where`` (the top-level statement), ``statement`` (its first line),
  ``kind`` (error, syntax, exit, timeout), ``error`` (exception class name),
  ``message``, ``raised_at`` (the innermost student line, with its function),
  ``traceback`` (from the student's first frame, cut), ``follows`` (for a NameError:
  the failed statement that would have bound the name); ``describe()``.
- ``Captured``: see "What is captured" below.

How a file runs
---------------
- One top-level statement at a time, each compiled alone under the file's name (a
  notebook cell under ``"NAME code cell N"``, its lines in linecache), so tracebacks
  point at the student's lines. All share one module namespace, registered in
  ``sys.modules`` for the run. ``__name__`` is ``student_<stem>`` (``student_cnn``),
  as when the worker imports the file, never ``"__main__"``: an
  ``if __name__ == "__main__":`` block does not run (most scripts train at top level
  anyway, and a main block may parse arguments or loop). ``sys.argv`` is
  ``[shown_as]``; ``__file__`` is set for a script, not for a notebook (as in Jupyter).
  The file's folder and the working directory are appended to ``sys.path`` for the run
  (appended: a student's ``keras.py`` shadows nothing); ``__future__`` imports carry
  over to later statements.
- A statement that raises is a ``Failure`` (``error``), and the run goes on with the
  next one: every failing import is reported, not only the first. So is one whose
  lines do not parse (``syntax``: only its top-level block is lost, see
  statements.py), one that calls ``sys.exit`` (``exit``), and one that runs past
  ``statement_timeout_s`` (``timeout``, SIGALRM-based, main thread only).
  KeyboardInterrupt is re-raised after everything is put back.
- ``overrides`` preset module-level names before the first statement, and replace the
  file's own assignments to them (rewrite.py): ``{"MODEL_NUMBER": 2}`` makes
  practical2's ``MODEL_NUMBER = 1`` line assign 2. After each statement the override is
  also put back if anything else rebound the name.
- IPython lines in notebooks (and in .py files exported from Colab) are skipped with
  a note, except ``%%writefile NAME``, which writes NAME in the working directory so a
  later cell can import it, and ``%%time``-like cell magics, whose body runs (magics.py).
- What the run prints goes to bounded buffers (head and tail kept, ``output_limit``
  characters of each stream): printing never fails the run.

The stand-ins
-------------
Installed on entry and removed on exit (patches.py), so code called after the run
(a builder from ``report.namespace``, a student's training function in a hook) runs
for real. Each one used is reported once in ``notes``.

- ``keras.Model``: ``fit``/``fit_generator``/``evaluate``/``predict``/``train_on_batch``
  train and compute nothing, return what Keras would return, and record their settings
  (keras_training.py); ``__init__`` and ``compile`` run for real and are recorded.
- ``keras.datasets.{mnist, fashion_mnist, cifar10, cifar100}.load_data()`` return
  small synthetic data of the real shapes and dtypes; other loaders and
  ``keras.utils.get_file`` raise ``NoNetwork`` (datasets.py). torchvision is not
  installed with the grader, so it has no stand-in.
- ``image_dataset_from_directory`` / ``flow_from_directory`` on a missing folder read a
  synthetic class-per-folder tree under ``scratch``; ``ImageDataGenerator`` settings
  are remembered for the fit that uses them (image_folders.py).
- matplotlib (Agg; ``show``/``pause``), ``input()``, ``google.colab`` (``drive.mount``),
  ``IPython.display`` (environment.py).

What is captured
----------------
Every ``keras.Model`` the student's code constructs, fits, compiles, evaluates,
returns or leaves in the namespace, and every ``torch.nn.Module`` with parameters
that is returned or left in the namespace once torch is imported (capture.py). Each
``Captured`` has the live object, ``framework``, ``name`` (the variable it was first
bound to, a path such as ``models[1]`` or ``net.model``, ``returned by build_cnn()``
or ``<unnamed>``), ``first_seen`` (the top-level statement), ``built_at`` (the
student line that constructed it), ``returned_by``, ``final_names``, ``run`` and
``overrides`` (the settings it ran under), and ``events``: ``built``, ``compiled``,
``fit``, ``evaluated``, ``predicted``, ``trained_on_batch``, each with its location
and facts; ``compile`` and ``fits`` read those. Models are listed in the order they
were first seen.

The namespace keeps ``__grader_harness__``, the hook the rewritten statements call;
after the run it only passes values through.
"""

from grader.build_worker.harness.datasets import NoNetwork
from grader.build_worker.harness.location import Location
from grader.build_worker.harness.report import Captured, Event, Failure, RunReport
from grader.build_worker.harness.runner import StatementTimeout, module_name_for, run_source
from grader.build_worker.harness.source import Cell, NotebookError, Source

__all__ = [
    "Captured", "Cell", "Event", "Failure", "Location", "NoNetwork", "NotebookError",
    "RunReport", "Source", "StatementTimeout", "module_name_for", "run_source",
]
