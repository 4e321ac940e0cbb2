from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.clock import utcnow
from lms_core.courses.richtext import TextFormat
from lms_core.db import Base, IdMixin, TimestampMixin
from lms_core.enums import text_enum


class CourseStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class CourseLevel(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    ALL = "all"


class StaffRole(enum.StrEnum):
    CO_INSTRUCTOR = "co_instructor"
    TEACHING_ASSISTANT = "teaching_assistant"


class LessonKind(enum.StrEnum):
    TEXT = "text"
    VIDEO = "video"
    FILE = "file"
    LINK = "link"
    # Placeholders filled in by later capabilities (assessments, live classroom).
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"
    LIVE_SESSION = "live_session"


class Category(IdMixin, Base):
    __tablename__ = "categories"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)


class Course(IdMixin, TimestampMixin, Base):
    __tablename__ = "courses"

    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    # Sanitised HTML (allow-list) produced from the author's Markdown or HTML.
    description_html: Mapped[str] = mapped_column(Text, default="")
    # What the author wrote, in its format, for the editor only (readers get the HTML above).
    # NULL (rows written without it, e.g. by bulk loads): the source is ``description_html``.
    description_source: Mapped[str | None] = mapped_column(Text, default=None)
    description_format: Mapped[TextFormat] = mapped_column(
        text_enum(TextFormat, "text_format", length=16),
        default=TextFormat.HTML,
        server_default=TextFormat.HTML.value,
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), default=None, index=True
    )
    level: Mapped[CourseLevel] = mapped_column(
        text_enum(CourseLevel, "course_level"), default=CourseLevel.ALL
    )
    language: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Open to every subscriber of the platform plan (lms_core.subscriptions) without buying it.
    included_in_subscription: Mapped[bool] = mapped_column(
        default=False, server_default=text("false")
    )
    thumbnail_key: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[CourseStatus] = mapped_column(
        text_enum(CourseStatus, "course_status"), default=CourseStatus.DRAFT, index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    capacity: Mapped[int | None] = mapped_column(default=None)
    enrollment_opens_at: Mapped[datetime | None] = mapped_column(default=None)
    enrollment_closes_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    # Active enrollments, kept by a trigger on `enrollments` (migration 0003_catalog): never
    # written by the application.
    enrollment_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Catalog full-text document, computed by PostgreSQL (migration 0003_catalog); never
    # written by the application and deferred so ordinary loads do not fetch it.
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR,
        Computed("course_search_vector(title, summary, tags, description_html)", persisted=True),
        deferred=True,
    )

    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        Index("ix_courses_search_vector", "search_vector", postgresql_using="gin"),
        # Catalog listing: published courses, newest first, keyset on (published_at, id).
        Index("ix_courses_status_published_at_id", "status", "published_at", "id"),
        Index("ix_courses_status_enrollment_count_id", "status", "enrollment_count", "id"),
    )


class CourseStaff(Base):
    """Co-instructors and teaching assistants of a course (the owner is on ``Course``)."""

    __tablename__ = "course_staff"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[StaffRole] = mapped_column(text_enum(StaffRole, "staff_role"))


class CoursePrerequisite(Base):
    __tablename__ = "course_prerequisites"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    required_course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (CheckConstraint("course_id <> required_course_id", name="not_self"),)


class Module(IdMixin, TimestampMixin, Base):
    __tablename__ = "modules"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    # Dense 0..n-1 within the course; reorders lock the course row and rewrite positions.
    position: Mapped[int]

    __table_args__ = (
        UniqueConstraint(
            "course_id",
            "position",
            name="uq_modules_course_position",
            deferrable=True,
            initially="DEFERRED",
        ),
    )


class Lesson(IdMixin, TimestampMixin, Base):
    __tablename__ = "lessons"

    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    # Denormalised from the module so course-wide queries need no join.
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LessonKind] = mapped_column(text_enum(LessonKind, "lesson_kind"))
    # Dense 0..n-1 within the module.
    position: Mapped[int]
    body_html: Mapped[str] = mapped_column(Text, default="")  # text lessons, sanitised
    # The author's text and its format, for the editor only (as Course.description_source).
    body_source: Mapped[str | None] = mapped_column(Text, default=None)
    body_format: Mapped[TextFormat] = mapped_column(
        text_enum(TextFormat, "text_format", length=16),
        default=TextFormat.HTML,
        server_default=TextFormat.HTML.value,
    )
    url: Mapped[str | None] = mapped_column(String(2000), default=None)  # link lessons
    estimated_minutes: Mapped[int | None] = mapped_column(default=None)
    release_at: Mapped[datetime | None] = mapped_column(default=None)  # drip
    is_preview: Mapped[bool] = mapped_column(default=False)
    is_required: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        UniqueConstraint(
            "module_id",
            "position",
            name="uq_lessons_module_position",
            deferrable=True,
            initially="DEFERRED",
        ),
        Index("ix_lessons_module_id", "module_id"),
    )


class CourseFile(IdMixin, Base):
    """A stored file of a course: today the attachment of a file lesson (one per lesson).

    ``storage_key`` is generated (``courses/<course_id>/files/<uuid>``), never the user's name;
    ``filename`` is the sanitised display name used in ``Content-Disposition``. ``size`` counts
    towards the course's quota (``SEMINAR_COURSE_QUOTA_BYTES``).
    """

    __tablename__ = "course_files"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), default=None, unique=True
    )
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class VideoStatus(enum.StrEnum):
    """Where the latest upload of a lesson's video stands."""

    QUEUED = "queued"  # stored; the transcode job waits (or waits for a retry)
    PROCESSING = "processing"  # a worker is transcoding it
    READY = "ready"  # the HLS renditions of this upload are playable
    FAILED = "failed"  # the upload cannot be played; ``error`` says why


class LessonVideo(IdMixin, TimestampMixin, Base):
    """The video of a video lesson: its source upload and the HLS output being played.

    Two things are tracked apart so that replacing a video never interrupts playback:
    ``version``/``status``/``error``/``job_id`` describe the latest upload (a replacement bumps
    ``version`` and queues a new transcode), while ``hls_*``, ``duration_seconds``, ``width``,
    ``height`` and ``renditions`` describe the output students play, swapped in atomically when
    a newer version is ready. ``hls_prefix`` is versioned, so a swap never mixes segments of
    two uploads; ``hls_files`` lists every stored object under it (the storage port cannot list
    a prefix), for deletion after a swap. ``hls_bytes`` counts towards the course's quota.
    """

    __tablename__ = "lesson_videos"

    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), default=None, unique=True
    )
    source_file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course_files.id", ondelete="SET NULL"), default=None
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[VideoStatus] = mapped_column(
        text_enum(VideoStatus, "video_status", length=16), default=VideoStatus.QUEUED
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    hls_version: Mapped[int | None] = mapped_column(Integer, default=None)
    hls_prefix: Mapped[str | None] = mapped_column(String(300), default=None)
    hls_files: Mapped[list[str]] = mapped_column(JSONB, default=list)
    hls_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("hls_bytes >= 0", name="hls_bytes_not_negative"),
    )
