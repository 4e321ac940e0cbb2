"""The gradebook: weighted categories, items (graded lessons, manual items, attendance), drop
lowest N, extra credit, overrides with an audit trail, a letter scale, totals and CSV export."""
