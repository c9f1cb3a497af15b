"""Checks: each module compares the facts of a built model with one part of a spec.

They run in the parent on plain data (the facts the verify worker computed from the
saved model); none of them imports TensorFlow or student code.
"""
