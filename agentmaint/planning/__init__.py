"""What is due: maintenance windows and the planner.

Second stage of the pipeline: a pure function of (schedule, history, now); the
history is seen through the small `HistoryReader` protocol.
"""
