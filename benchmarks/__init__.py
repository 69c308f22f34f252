"""Measurements that print numbers (make eval); never timed assertions in tests."""
