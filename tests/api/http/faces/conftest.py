from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.http.faces.support import Faces, start_faces
from tests.dbharness import Db


@pytest.fixture
async def faces(db: Db) -> AsyncIterator[Faces]:
    async for handle in start_faces(db):
        yield handle
