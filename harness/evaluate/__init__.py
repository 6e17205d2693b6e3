"""Evaluation: tasks as data, clip_benchmark runner, DataComp metrics and aggregation."""
