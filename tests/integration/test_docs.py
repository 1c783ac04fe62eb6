"""The README stays short and every file it or docs/ links to exists."""

from __future__ import annotations

import re

from conftest import SOURCE_DIR

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_is_at_most_150_lines_and_opens_with_the_two_commands():
    text = (SOURCE_DIR / "README.md").read_text("utf-8")
    assert len(text.splitlines()) <= 150
    head = text.split("```", 2)[1]
    assert "make run" in head and "make test" in head


def test_every_local_link_in_the_docs_exists():
    pages = [SOURCE_DIR / "README.md", *sorted((SOURCE_DIR / "docs").glob("*.md"))]
    assert len(pages) >= 7
    for page in pages:
        for target in LINK.findall(page.read_text("utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_links_every_doc():
    text = (SOURCE_DIR / "README.md").read_text("utf-8")
    for doc in sorted((SOURCE_DIR / "docs").glob("*.md")):
        assert f"(docs/{doc.name})" in text, f"README.md does not link docs/{doc.name}"
