"""Kernel generators, one module per kernel kind; each returns a ``KernelSource``."""
