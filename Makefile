# Benchmarks (see bench/README.md). SIZE is one or more repository counts.
SIZE ?= 1000 10000 100000
PYTHON ?= python3

.PHONY: bench test
bench:
	$(PYTHON) -m bench.run --sizes $(SIZE)

test:
	scripts/test
