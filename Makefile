.PHONY: bench run test lint

# Extra flags for the benchmark, e.g. make bench BENCH_ARGS="--duration 30 --skip-worker"
BENCH_ARGS ?=

bench: ; ./scripts/setup.sh && .venv/bin/python -m bench.run $(BENCH_ARGS)

run: ; ./scripts/run.sh

test: ; ./scripts/test.sh

lint: ; .venv/bin/ruff check .
