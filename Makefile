# CrawlRun — shortcuts; README.md's two commands are scripts/demo.sh and scripts/test.sh.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build test bench bench-peers demo format lint clean

setup:
	@scripts/setup.sh

build: setup
	swift build

# Static Swift runtime, non-PIE: the crawler starts faster and keeps ~2 MB less resident.
RELEASE_FLAGS := -c release --static-swift-stdlib -Xlinker -no-pie

release: setup
	swift build $(RELEASE_FLAGS)

# The README's two commands, for those who prefer make.
test:
	bash scripts/test.sh

# Benchmarks print figures; they are not pass/fail tests.
bench: setup
	swift build $(RELEASE_FLAGS)
	.build/release/bench

# The crawler against Selenium and Playwright on the same pages (README "Benchmark").
bench-peers: setup
	bash scripts/bench-peers.sh

demo:
	bash scripts/demo.sh

format:
	swift format --in-place --recursive --parallel Package.swift Sources Tests

lint:
	swift format lint --recursive --parallel Package.swift Sources Tests

clean:
	rm -rf .build
