"""Reports for the school community: questions, hand-offs, sign-ups, in numbers and a chart."""
