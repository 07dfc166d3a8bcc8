"""Report captions: every caption renders without docutils errors or warnings."""

from pathlib import Path

import docutils.core
import docutils.utils
import pytest

CAPTIONS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "report").glob("*.rst"))


@pytest.mark.parametrize("caption", CAPTIONS, ids=lambda p: p.stem)
def test_caption_renders_cleanly(caption):
    doctree = docutils.core.publish_doctree(
        caption.read_text(), settings_overrides={"report_level": 5, "halt_level": 5}
    )
    problems = [
        node.astext()
        for node in doctree.findall(docutils.nodes.system_message)
        if node["level"] >= docutils.utils.Reporter.WARNING_LEVEL
    ]
    assert problems == []
