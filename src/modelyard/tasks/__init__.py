"""Task subpackages: one folder per task with the same five files."""
