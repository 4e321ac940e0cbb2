"""Live sessions: scheduling, the SCHEDULED -> LIVE -> ENDED state machine, join tickets and
the per-user iCalendar feed."""
