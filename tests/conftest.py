"""Shared test configuration: Hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The real control plane's session fixtures (plane, api_client, core, admin, deployed),
# one definition for every tier that uses them.
pytest_plugins = ["support.cluster_fixtures"]
