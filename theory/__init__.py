"""Exact worked answers to the numeric theory questions of the course assignments.

Pure Python (``fractions.Fraction`` for exact arithmetic); no TensorFlow and no
NumPy at import time, so ``grader theory ...`` starts about as fast as Python
itself. Tensors are nested lists, channels-last (H x W x C), and kernels are
laid out as TensorFlow lays them out (Fh x Fw x C_in x C_out).

- ``shapes``:    output-size formula, padding, parameter counts, receptive field
- ``layers``:    a small layer-list language and shape/parameter propagation
- ``ops``:       convolution (with worked sums), depthwise convolution, pooling
- ``parse``:     literal matrices, generators such as ``ones:3x3``, shapes (``63x63x16``),
  nested lists and counts (``1,199,882``), and their words
- ``answer``:    a reading (one way to read a question), its answer and steps
- ``worked``:    worked steps: padded inputs, every cell's sum, formulas with numbers
- ``calculator``: every computation a reading can name, in the CLI verbs' notation
- ``section``:   an assignment spec's ``theory`` section as questions, checked
- ``questions``: questions by assignment (found in the specs), solved and varied per
  student, and the ``--json`` object; no questions live in code
- ``grade``:     grading a student's numeric answers, partial credit by cell
- ``render``:    terminal rendering with rich
"""
