"""The shared resolver: which credentials, endpoint and model apply here, and why."""

from .cache import Resolver
from .provenance import Diagnostic, Sourced
from .resolve import ModelInfo, Overrides, Resolution, resolve

__all__ = ["Diagnostic", "ModelInfo", "Overrides", "Resolution", "Resolver", "Sourced", "resolve"]
