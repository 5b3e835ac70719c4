"""The package version, in a module of its own so that any layer may read it.

Example:
    >>> from edgelite.version import __version__
    >>> __version__
    '0.1.0'
"""

__version__ = "0.1.0"
