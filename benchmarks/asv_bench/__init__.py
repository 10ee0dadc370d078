"""asv benchmarks of simcore (see benchmarks/asv.conf.json and benchmarks/README.md)."""
