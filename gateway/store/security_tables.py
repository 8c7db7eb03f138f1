"""Who may call: registered API clients, the assertion ids they used and the access tokens they hold; console
operators, their sessions and sign-in pre-sessions."""

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


class ApiClient(SQLModel, table=True):
    """A registered system: a trust, provider, operator or tester, authenticating with signed JWTs."""

    __tablename__ = "api_client"

    id: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    ods: str = Field(max_length=12, index=True)
    alg: str = Field(max_length=8, description="the one signing algorithm accepted for this client's assertions")
    jwks: str | None = Field(default=None, description="the client's public JWKS, when registered from a file")
    jwks_url: str | None = None
    active: bool = True
    created_at: datetime = Field(sa_column=utc_timestamp())


class AssertionJti(SQLModel, table=True):
    """Client-assertion ids already used: a jti is never accepted twice."""

    __tablename__ = "assertion_jti"

    client_id: str = Field(primary_key=True, max_length=64)
    jti: str = Field(primary_key=True, max_length=255)
    expires_at: datetime = Field(sa_column=utc_timestamp())


class AccessToken(SQLModel, table=True):
    """An issued access token, stored only as its SHA-256."""

    __tablename__ = "access_token"

    token_sha256: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(foreign_key="api_client.id", max_length=64, index=True)
    role: str = Field(max_length=16)
    ods: str = Field(max_length=12)
    scope: str
    expires_at: datetime = Field(sa_column=utc_timestamp())


class Operator(SQLModel, table=True):
    """A person who signs in to the console. The password is kept only as a scrypt hash."""

    __tablename__ = "operator"

    username: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16, description="viewer, operator, admin or auditor")
    organisation_ods: str | None = Field(default=None, max_length=12, description="a trust's or provider's staff")
    organisation_kind: str | None = Field(default=None, max_length=8, description="trust or provider")
    password_hash: str = Field(max_length=255, description="scrypt$n$r$p$salt$hash (gateway.security.passwords)")
    active: bool = True
    failed_logins: int = Field(default=0, description="wrong passwords in a row; reset by a good one")
    locked_until: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=utc_timestamp(nullable=True))
    created_at: datetime = Field(sa_column=utc_timestamp())
    updated_at: datetime = Field(sa_column=utc_timestamp())


class OperatorSession(SQLModel, table=True):
    """A signed-in console session: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "operator_session"

    token_sha256: str = Field(primary_key=True, max_length=64)
    username: str = Field(foreign_key="operator.username", max_length=64, index=True)
    csrf_token: str = Field(max_length=64, description="the token every POST form of this session must carry")
    created_at: datetime = Field(sa_column=utc_timestamp())
    last_seen_at: datetime = Field(sa_column=utc_timestamp())
    expires_at: datetime = Field(sa_column=utc_timestamp())
