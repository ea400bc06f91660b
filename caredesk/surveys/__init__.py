"""Satisfaction surveys: distribution, the patient answering page, statistics, closed loop."""
