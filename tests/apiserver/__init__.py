"""Tests of the Kubernetes API test server (tests/kubeapi), pinned to real Kubernetes behaviour."""
