"""``sqm report`` (SPEC 8): read the outputs for a time range, compute the period figures, write
one self-contained HTML or Markdown file."""
