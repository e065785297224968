"""Turning a snapshot into findings, incidents and escalations: pure logic, no clients."""
