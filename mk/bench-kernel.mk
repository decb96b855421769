# make bench-kernel: the whole-filesystem benchmark in guest instructions
# (scripts/bench-kernel.sh; README "Benchmarks in the kernel").
# bench-kernel-smoke: one config, a tiny workload, no profile (a few
# minutes once the kernel is built), to check the pipeline.
.PHONY: bench-kernel bench-kernel-smoke

bench-kernel:
	@bash scripts/bench-kernel.sh

bench-kernel-smoke:
	@BENCH_KERNEL_SMOKE=1 bash scripts/bench-kernel.sh
