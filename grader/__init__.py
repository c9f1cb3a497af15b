"""cnn-grader: an autograder for convolutional-network assignments.

The parent process (this package's CLI) never imports TensorFlow or student
code; see grader/parent/sandbox.py and the two worker modules for the trust boundary.
"""

__version__ = "0.1.0"
