"""runbridge's benchmarks: `python -m bench` runs them against the sandbox and writes bench/RESULTS.md."""
