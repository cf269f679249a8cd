"""Sizing a run before launching it (`python -m launch.plan`): memory per device and time."""
