"""The phases of an Envoy benchmark run. Each is a function that starts what it needs through
the run's `processes.Processes`, stops it again, and returns a typed dataclass of its results;
report.py turns those into the markdown report and the JSON file."""
