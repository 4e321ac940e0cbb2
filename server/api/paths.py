"""Path parameters shared by the REST modules (one model per URL shape)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class CoursePath(BaseModel):
    course_id: uuid.UUID


class CourseUserPath(BaseModel):
    course_id: uuid.UUID
    user_id: uuid.UUID


class LessonPath(BaseModel):
    lesson_id: uuid.UUID
