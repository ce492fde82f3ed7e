"""The docs speak to users about the product: installs that work, files that exist, no project
bookkeeping (issue numbers, work sessions, internal notes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_install_of_an_unpublished_package(page):
    # effprof is not on PyPI: `pip install effprof` (or effprof[extra]) cannot work
    assert not re.search(r"pip install ['\"]?effprof\b", page.read_text()), page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_cited_markdown_files_exist(page):
    # pages of the project: docs/NAME.md, or an upper-case NAME.md at the root (README.md, CONVENTIONS.md)
    for cited in re.findall(r"(?<![\w/.-])(docs/[\w-]+\.md|[A-Z][A-Z_]+\.md)\b", page.read_text()):
        assert (ROOT / cited).is_file(), f"{page.name} cites {cited}, which is not in the repository"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_do_not_speak_of_issues_sessions_or_seed_notes(page):
    text = page.read_text()
    for pattern in (r"\bissue \d+", r"\bthis session\b", r"\bseeds?\b( note| \d{3})?", r"as the issue"):
        found = re.search(pattern, text, re.IGNORECASE)
        assert found is None, f"{page.name}: '{found.group(0)}' in: {text[max(0, found.start() - 60):found.end() + 40]!r}"


def test_the_readme_first_screen_shows_the_input_forms_and_what_guessed_means():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:50])
    for needed in ("-i 1,3,", "input_ids=1,512:int64", "example_inputs()", "guesses", "inputs_guessed", "guess_inputs: true"):
        assert needed in first_screen, needed
