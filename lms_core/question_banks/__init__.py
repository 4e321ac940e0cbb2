"""Question banks: reusable, tagged questions per course, their grading and interchange."""
