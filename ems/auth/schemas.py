"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from ems.auth.models import Role


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_at: dt.datetime
    user: UserRead


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: Role
    unit_id: int | None
    hospital_id: int | None
    on_duty: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256)
    display_name: str = Field(default="", max_length=120)
    role: Role
    unit_id: int | None = None
    hospital_id: int | None = None


class DutyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_duty: bool


TokenRead.model_rebuild()
