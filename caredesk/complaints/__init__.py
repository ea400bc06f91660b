"""Complaints and praise: intake, the six-step workflow, working-time deadlines, bulletin."""
