"""The WerfBundle API at the edge: its schema (and so the CRD), and the codec that
turns raw Kubernetes JSON into the core's model and back. Imports only ``werfop.core``.
"""
