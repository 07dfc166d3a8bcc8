"""Report captions: every caption renders without docutils errors or warnings."""

from pathlib import Path

import docutils.core
import docutils.utils
import pytest

CAPTIONS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "report").glob("*.rst"))


def test_every_figure_and_the_claims_have_a_caption():
    """workflow/rules/figures.smk gives each built figure the caption report/<fig>.rst and the
    claims table report/claims.rst: one per figure of nncosmo.figures.FIGURES, plus claims.
    (Also keeps the parametrisation below from going empty, which pytest reports as one skip.)"""
    from nncosmo.figures import FIGURES

    assert [p.stem for p in CAPTIONS] == sorted([*FIGURES, "claims"])


@pytest.mark.parametrize("caption", CAPTIONS, ids=lambda p: p.stem)
def test_caption_renders_cleanly(caption):
    """Warnings and errors are kept in the tree (report_level 2: a higher one drops the messages
    of transforms, such as an undefined |substitution|, before they reach it), and text docutils
    could not parse is a `problematic` node."""
    doctree = docutils.core.publish_doctree(
        caption.read_text(),
        settings_overrides={"report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5},
    )
    problems = [
        node.astext()
        for node in doctree.findall(docutils.nodes.system_message)
        if node["level"] >= docutils.utils.Reporter.WARNING_LEVEL
    ]
    problems += [node.astext() for node in doctree.findall(docutils.nodes.problematic)]
    assert problems == []
