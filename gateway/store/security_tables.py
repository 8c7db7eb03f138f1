"""Tables of issue 16 (hardening): the console's sign-in pre-sessions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from gateway.store.columns import utc_timestamp


class ConsolePreSession(SQLModel, table=True):
    """A sign-in form handed out: the cookie holds a random token (the table only its SHA-256) and the form the CSRF
    token stored here, so a sign-in is accepted only with a form this server gave to this browser (login CSRF)."""

    __tablename__ = "console_presession"

    token_sha256: str = Field(primary_key=True, max_length=64)
    csrf_token: str = Field(max_length=64)
    expires_at: datetime = Field(
        sa_column=utc_timestamp(), description="unused forms expire; the row is deleted when used"
    )
