"""Courses: categories, courses and their staff, modules and lessons, prerequisites."""
