# Benchmarks (bench/README.md). SIZE: one or more repository counts; BENCH_ARGS: any other
# `python -m bench.run` flags, e.g. BENCH_ARGS="--cache /var/tmp/regsearch-bench".
SIZE ?= 1000 10000 100000
BENCH_ARGS ?=
PYTHON ?= python3

.PHONY: bench test
bench:
	$(PYTHON) -m bench.run --sizes $(SIZE) $(BENCH_ARGS)

test:
	scripts/test
