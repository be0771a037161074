"""Test support for the registry adapters: real registry processes, a token server, an OCI
pusher, a raw socket server for broken HTTP, a manual clock, and the pytest fixtures."""
