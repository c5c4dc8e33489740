"""The local stack of `make run`: one table of processes (stack.processes), each with its
command, readiness probe and stop, started in order and stopped in reverse."""
