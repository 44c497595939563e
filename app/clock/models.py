from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class TestClock(SQLModel, table=True):
    """The frozen moment every process reads when ``RECTIFY_TEST_CLOCK=1`` (``app.clock``)."""

    __tablename__ = "test_clock"
    __test__ = False
    id: int = Field(default=1, primary_key=True)
    now: datetime = Field(sa_type=UTCDateTime)
