"""The tour's chapters: one module per section of the notes (found by importing each)."""
