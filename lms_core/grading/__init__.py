"""Grading: rubrics, grades per (graded lesson, student) that stay drafts until released, every
change kept as a revision, feedback files, the grading queue, zip download and CSV upload."""
