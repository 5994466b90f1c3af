import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COURSE_FAST", "1")


import pytest


@pytest.fixture(autouse=True)
def explorer_speed_fixed(monkeypatch):
    """The depth explorer's estimates use a fixed speed in tests (the committed sweep's, 2-core CPU),
    never one measured on a machine that may be busy: a test must not depend on the load."""
    from course_lib import explorer
    monkeypatch.setattr(explorer.SPEED, "current",
                        lambda: (explorer.SECONDS_PER_IMAGE_LAYER, "the committed sweep's speed on a 2-core CPU"))
