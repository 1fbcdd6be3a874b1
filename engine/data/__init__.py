"""Data sets: where they live, how to read them, how to fetch them."""
