"""The test suite: unit, end-to-end (daemon + simulator), interop (real peers), benchmarks."""
