"""``sqm report`` (SPEC 8): read the outputs for a time range, compute the period figures, write
one self-contained HTML or Markdown file. Where channels declare queues (SPEC 9), the report adds
a per-queue section (targets, SLA attainment, by-queue SLO budgets) and names queue alerts;
without declared queues it reads as before (``build`` says why)."""
