"""Enrollment in courses and each student's progress through their lessons."""
