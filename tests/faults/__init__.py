"""Fault-injection suite: real agents, ingest workers and Mosquitto under SIGKILLs, cuts and more.

Run it with ``python -m tests.faults.run`` (``make faults``); see docs/faults.md.
"""
