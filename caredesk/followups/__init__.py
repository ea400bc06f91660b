"""Follow-up centre: plans, generated tasks, agent queue, call records, weekly reports."""
