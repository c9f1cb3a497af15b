"""One module per CLI verb. Each imports only typer, rich and the standard
library at module level, so `grader --help` and `grader theory` stay fast and
never pull in TensorFlow; heavy imports live inside the command functions."""
