"""The suite writes only to temp folders: `git status` is the same after it as before.

Named to run last. Browser screenshots go to a temp dir (docs/img is refreshed only with
BORTKIT_UPDATE_DOCS=1), notebooks execute into tmp_path, caches live in git-ignored folders.
"""

from __future__ import annotations

import pytest


def test_suite_leaves_the_tree_as_it_found_it(git_status_at_start):
    before, status = git_status_at_start
    if before is None:
        pytest.skip("not a git checkout")
    after = status()
    new = sorted(set(after.splitlines()) - set(before.splitlines()))
    assert not new, f"the test suite changed the tree: {new}"
