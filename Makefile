# Thin wrapper around CMake. `make all` builds ./libmymalloc.so; `make check` runs
# every test under CTest; `make stress` and `make bench` run the long programs.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all check stress bench deps clean format

all: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target mymalloc
	@cp $(BUILD)/libmymalloc.so ./libmymalloc.so

check: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cp $(BUILD)/libmymalloc.so ./libmymalloc.so
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

stress: all
	@cmake --build $(BUILD) -j $(JOBS)
	@ci/stress.sh $(BUILD)

bench: all
	@cmake --build $(BUILD) -j $(JOBS)
	@ci/bench.sh $(BUILD)

deps:
	@ci/install-deps.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h' '*.c')

clean:
	rm -rf $(BUILD) libmymalloc.so
