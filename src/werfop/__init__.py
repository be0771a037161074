"""werfop: continuously deploy werf bundles from OCI registries.

The package is hexagonal: ``werfop.core`` decides (pure), ``werfop.runtime`` drives,
``werfop.adapters`` touch the world, ``werfop.api`` translates raw Kubernetes JSON to
the core's model and back, and ``werfop.main`` wires them together.
"""

__version__ = "0.1.0"
