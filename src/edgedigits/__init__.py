"""edgedigits: take the tutorial MNIST MLP to the edge and prove it still gives the same answers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edgedigits")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
