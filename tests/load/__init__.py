"""The national load test (issue 8): thousands of simulated devices against real processes."""
