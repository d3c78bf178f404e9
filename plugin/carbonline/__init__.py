"""carbonline: live CO₂e per unit produced, from the energy telemetry a factory already collects."""

from importlib.metadata import PackageNotFoundError, version

from .plugins import hookimpl

try:
    __version__ = version("carbonline")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = ["__version__", "hookimpl"]
