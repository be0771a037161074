"""Shared test configuration: Hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci), and the
real control plane's session fixtures (``support.cluster_fixtures``: plane, api_client,
core, admin, deployed), so that every tier using it shares one control plane per
session."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["support.cluster_fixtures"]

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
