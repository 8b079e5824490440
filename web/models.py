"""The web's own table: signed-in sessions. A session stands for a party that proved itself with an
API key once; the cookie holds a random token whose SHA-256 is stored, never the key."""

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from registry.models import utcnow


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    party_id: int = Field(foreign_key="party.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
