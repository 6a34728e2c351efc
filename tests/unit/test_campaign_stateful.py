"""Random command sequences against the Campaign aggregate keep every rule."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.unit.campaign_machine import CampaignMachine

pytestmark = pytest.mark.unit

CampaignMachine.TestCase.settings = settings(stateful_step_count=100)
TestCampaignCommands = CampaignMachine.TestCase


def test_ci_profile_runs_at_least_200_sequences():
    configured = TestCampaignCommands.settings
    if os.environ.get("CI"):
        assert configured.max_examples >= 200
    assert configured.stateful_step_count >= 30
