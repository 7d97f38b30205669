"""The tables behind the models, for statements that run for every job.

An UPDATE or INSERT on a table skips the ORM's statement layer (session
synchronisation, bulk-operation bookkeeping), which cost the worker more than
the round trip itself. Use these where nothing loaded needs to see the change.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from models.job import Attempt, Event, Job, Notice

jobs = cast(Table, Job.__table__)
attempts = cast(Table, Attempt.__table__)
events = cast(Table, Event.__table__)
notices = cast(Table, Notice.__table__)
