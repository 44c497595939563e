from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class WorkflowSnapshot(SQLModel, table=True):
    """A workflow definition as first seen, kept for the items pinned to its version."""

    __tablename__ = "workflow_snapshot"
    name: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    body: dict = Field(sa_column=Column(JSON, nullable=False))
