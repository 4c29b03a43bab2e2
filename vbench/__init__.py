"""vbench: evaluate how vision-language models take on visual personas and values."""
from vbench.version import __version__


def evaluate(*args, **kwargs):
    """Python API mirroring `vbench eval`; see :func:`vbench.evaluator.evaluate`."""
    from vbench.evaluator import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


__all__ = ["evaluate", "__version__"]
