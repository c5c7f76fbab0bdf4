# mogen: a C daemon that feeds multi-output image models from a CSV.
#
#   make            build mogend, mogenctl, libmogen under $(BUILD)
#   make test       install what is missing, build, run every test
#   make demo       install what is missing, build, train on a real dataset
#   make bench      benchmarks (see tests/bench/)
#   make install    PREFIX=/usr/local DESTDIR=
#
# All output goes under $(BUILD) (default build/). SANITIZER=address,undefined
# builds with sanitizers; `make test` does that itself in build/sanitize.
# Compile and link lines are short ("CC daemon/feed.c"); V=1 shows the full
# commands.

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CC ?= cc
PYTHON ?= .venv/bin/python
SANITIZER ?=
CFLAGS ?= -O2 -g
V ?= 0

# Q silences a command; say prints its short form instead (nothing with V=1).
ifeq ($(V),1)
Q =
say = @:
else
Q = @
say = @printf '%-4s %s\n'
endif

# Libraries from Debian; pkg-config names.
PKGS = libuv libturbojpeg spng libcjson

WARN = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wvla
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -MMD -MP -fPIC \
	-Idaemon -Iprotocol -Iclient/c $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
ALL_LDLIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
ifneq ($(SANITIZER),)
ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZER)
endif

# The daemon's modules minus main.c form a static library that mogend,
# mogenctl (validate reuses the loader) and the unit tests link.
CORE_SRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
PROTO_SRC = $(wildcard protocol/*.c)
CLIENT_SRC = $(wildcard client/c/*.c)
CTL_SRC = $(wildcard client/ctl/*.c)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_HELPERS = $(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c))
BENCH_SRC = $(wildcard tests/bench/*.c)
TOOL_SRC = $(wildcard tests/tools/*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

CORE_LIB = $(BUILD)/libmogend.a
CLIENT_LIB = $(BUILD)/libmogen.a
CLIENT_SO = $(BUILD)/libmogen.so
MOGEND = $(BUILD)/mogend
MOGENCTL = $(BUILD)/mogenctl
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
TOOL_BINS = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
# Seconds each fuzz target runs in `make test` (bounded so CI stays short).
FUZZ_SECONDS ?= 20

.SECONDARY:

.PHONY: all test unit sanitize sanitize-pytest sanitize-python pytest deps demo bench install \
	clean fuzz python-fastpath

EXAMPLES = $(BUILD)/examples/sum_batch $(BUILD)/examples/sum_batch_shared

all: $(MOGEND) $(MOGENCTL) $(CLIENT_LIB) $(CLIENT_SO) $(BUILD)/mogen.pc $(EXAMPLES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC) $(PROTO_SRC))
	@mkdir -p $(dir $@)
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLIENT_LIB): $(call obj,$(CLIENT_SRC) $(PROTO_SRC))
	@mkdir -p $(dir $@)
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(CLIENT_SO): $(call obj,$(CLIENT_SRC) $(PROTO_SRC))
	$(say) LD $@
	$(Q)$(CC) -shared $(ALL_LDFLAGS) -Wl,-soname,libmogen.so.1 -Wl,--no-undefined -o $@ $^ \
		$(shell $(PKG_CONFIG) --libs libcjson)
	$(Q)ln -sf libmogen.so $(BUILD)/libmogen.so.1

# The C example, linked once against the static and once against the shared
# library (found through an rpath to the build tree), as a user would.
$(BUILD)/examples/sum_batch: client/c/examples/sum_batch.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(say) LD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CLIENT_LIB) $(shell $(PKG_CONFIG) --libs libcjson)

$(BUILD)/examples/sum_batch_shared: client/c/examples/sum_batch.c $(CLIENT_SO)
	@mkdir -p $(dir $@)
	$(say) LD $@
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -L$(BUILD) -lmogen -Wl,-rpath,$(abspath $(BUILD))

# For use from the build tree; `make install` writes its own with the
# install-time PREFIX.
$(BUILD)/mogen.pc: client/c/mogen.pc.in
	@mkdir -p $(dir $@)
	$(say) GEN $@
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' $< > $@

$(MOGEND): $(call obj,daemon/main.c) $(CORE_LIB)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(MOGENCTL): $(call obj,$(CTL_SRC)) $(CORE_LIB) $(CLIENT_LIB)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/tests/test_%: $(call obj,tests/unit/test_%.c $(UNIT_HELPERS)) $(CORE_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

$(BUILD)/bench/%: $(call obj,tests/bench/%.c) $(CORE_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# Small programs that the Python tests drive (e.g. decode one file to raw
# pixels so that pytest can compare them with PIL's).
$(BUILD)/tools/%: $(call obj,tests/tools/%.c) $(CORE_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(say) LD $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# The Python client's mailbox step in C (client/python/mogen/_fastpath.c),
# compiled for $(PYTHON) and its NumPy. It is built in place, beside the
# package's modules, so that `import mogen` from client/python finds it: the
# one output outside $(BUILD) (clean removes it). The client works without
# it (docs/python.md). The file name depends on the interpreter, known only
# once deps has made .venv, hence a shell check rather than a make rule.
PY_FASTPATH_SRC = client/python/mogen/_fastpath.c protocol/mailbox_layout.h
PY_FASTPATH_DIR ?= client/python/mogen
PY_FASTPATH_CFLAGS = $(CFLAGS) $(if $(SANITIZER),-fsanitize=$(SANITIZER) -fno-sanitize-recover=all \
	-fno-omit-frame-pointer)
# Python's and NumPy's headers come in as system headers: a warning in a
# newer release of theirs must not fail the build. NumPy's config header
# is part of the check, so that another NumPy rebuilds the module.
python-fastpath:
	$(Q)[ -x "$$(command -v $(PYTHON))" ] || { echo "$(PYTHON) is not there: run make deps" \
		"first, or make python-fastpath PYTHON=/usr/bin/python3" >&2; exit 1; }
	$(Q)out=$(PY_FASTPATH_DIR)/_fastpath$$($(PYTHON) -c \
		'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))') || exit 1; \
	py_inc=$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
	np_inc=$$($(PYTHON) -c 'import numpy; print(numpy.get_include())') || exit 1; \
	for src in $(PY_FASTPATH_SRC) "$$np_inc/numpy/_numpyconfig.h"; do \
		[ "$$out" -nt "$$src" ] || stale=1; \
	done; \
	[ -z "$$stale" ] && exit 0; \
	printf '%-4s %s\n' CC "$$out"; \
	$(CC) -std=c11 $(WARN) $(PY_FASTPATH_CFLAGS) -fPIC -shared -Iprotocol -isystem "$$py_inc" \
		-isystem "$$np_inc" -o "$$out" client/python/mogen/_fastpath.c

# libFuzzer targets: each tests/fuzz/fuzz_X.c defines LLVMFuzzerTestOneInput
# and is built with clang against the sources directly (not the gcc-built
# libraries), with ASan + UBSan.
FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-Idaemon -Iprotocol -Iclient/c $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(PROTO_SRC)
	@mkdir -p $(dir $@)
	$(say) FUZZ $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRC) $(PROTO_SRC) $(ALL_LDLIBS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$(basename $$f); \
		echo "fuzzing $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 -artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus-$$(basename $$f) $$( [ -d tests/fuzz/seeds/$$(basename $$f) ] && echo tests/fuzz/seeds/$$(basename $$f) ) \
			2>$(BUILD)/fuzz/$$(basename $$f).log || { tail -40 $(BUILD)/fuzz/$$(basename $$f).log; exit 1; }; \
		tail -1 $(BUILD)/fuzz/$$(basename $$f).log; \
	done

# ---------------------------------------------------------------------------
# Dependencies: installed only when missing, so the second run is instant.

DEB_PKGS = build-essential pkg-config libuv1-dev libturbojpeg0-dev libspng-dev \
	libcjson-dev libcmocka-dev python3-dev python3-venv python3-numpy python3-pil \
	python3-torch python3-torchvision python3-keras-preprocessing python3-pandas \
	python3-psutil dataset-fashion-mnist clang libclang-rt-14-dev valgrind imagemagick
# Keras 3 with the JAX backend from PyPI; numpy<2 keeps Debian's torch working.
PIP_PKGS = "numpy<2" "keras>=3,<3.7" "jax[cpu]<0.4.31" pytest

deps: .venv/.deps-ok

.venv/.deps-ok: Makefile
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@[ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
	@echo "installing Keras, JAX and pytest into .venv (only what is missing)"
	$(Q).venv/bin/python -m pip install -q --disable-pip-version-check $(PIP_PKGS)
	@touch $@

# ---------------------------------------------------------------------------
# Tests.

# The label names the run in run-unit.sh's summary line ("unit: N passed, ...").
UNIT_LABEL ?= unit

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh -l "$(UNIT_LABEL)" $(UNIT_BINS)

# The unit tests and the end-to-end tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer (daemon, mogenctl, libmogen and tools), in their
# own build directory so that objects never mix. MOGEN_SANITIZED=1 skips the
# two e2e tests that cannot run sanitized binaries (valgrind, make install).
SAN_MAKE = $(MAKE) --no-print-directory BUILD=$(BUILD)/sanitize SANITIZER=address,undefined \
	CFLAGS="-O1 -g"

sanitize:
	$(Q)$(SAN_MAKE) UNIT_LABEL="unit (ASan+UBSan)" unit

sanitize-pytest: python-fastpath
	$(Q)$(SAN_MAKE) all $(patsubst $(BUILD)/%,$(BUILD)/sanitize/%,$(TOOL_BINS))
	$(Q)MOGEN_BUILD=$(abspath $(BUILD)/sanitize) MOGEN_SANITIZED=1 $(PYTHON) -m pytest -q -rs tests/e2e

# The Python client's C step under ASan+UBSan: built beside a copy of the
# package in $(BUILD)/sanitize/python, and loaded into $(PYTHON) with the
# sanitizer runtimes preloaded (leak checks off: CPython keeps memory to
# the end by design), for its own tests and the mailbox tests against the
# sanitized daemon.
SAN_PYTHON = $(BUILD)/sanitize/python
sanitize-python:
	$(Q)$(SAN_MAKE) all
	@mkdir -p $(SAN_PYTHON)/mogen
	$(Q)cp client/python/mogen/*.py $(SAN_PYTHON)/mogen/
	$(Q)$(MAKE) --no-print-directory python-fastpath PY_FASTPATH_DIR=$(SAN_PYTHON)/mogen \
		SANITIZER=address,undefined CFLAGS="-O1 -g"
	$(Q)MOGEN_CLIENT_PYTHON=$(abspath $(SAN_PYTHON)) MOGEN_BUILD=$(abspath $(BUILD)/sanitize) \
		MOGEN_SANITIZED=1 ASAN_OPTIONS=detect_leaks=0 \
		LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		$(PYTHON) -m pytest -q -rs -p no:cacheprovider --capture=sys tests/e2e/test_python_fastpath.py \
		tests/e2e/test_mailbox.py

pytest: all $(TOOL_BINS) python-fastpath
	$(Q)MOGEN_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/e2e

# Each phase starts with a "== ... ==" header; pytest's summary stays the
# last line (CI reads it).
test: deps
	$(Q)$(MAKE) --no-print-directory all
	@echo "== C unit tests =="
	$(Q)$(MAKE) --no-print-directory unit
	@echo "== C unit tests under ASan+UBSan =="
	$(Q)$(MAKE) --no-print-directory sanitize
	@echo "== end-to-end tests against an ASan+UBSan build =="
	$(Q)$(MAKE) --no-print-directory sanitize-pytest
	@echo "== the Python client's C step under ASan+UBSan =="
	$(Q)$(MAKE) --no-print-directory sanitize-python
	@echo "== fuzzing ($(FUZZ_SECONDS) s per target) =="
	$(Q)$(MAKE) --no-print-directory fuzz
	@echo "== end-to-end tests (pytest, real mogend) =="
	$(Q)$(MAKE) --no-print-directory pytest

bench: deps all $(BENCH_BINS)
	$(Q)$(MAKE) --no-print-directory python-fastpath
	@sh tests/bench/run.sh $(BUILD)

demo: deps all
	$(Q)$(MAKE) --no-print-directory python-fastpath
	$(PYTHON) client/python/examples/demo.py --build $(BUILD) $(if $(DATA),--data $(DATA))

# ---------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(MOGEND) $(MOGENCTL) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CLIENT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(CLIENT_SO) $(DESTDIR)$(PREFIX)/lib/libmogen.so.1
	ln -sf libmogen.so.1 $(DESTDIR)$(PREFIX)/lib/libmogen.so
	install -m 644 client/c/mogen.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' client/c/mogen.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mogen.pc
	install -d $(DESTDIR)$(PREFIX)/share/doc/mogen/examples
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/mogen/
	install -m 644 conf/mogend.json conf/mogend.service conf/mogen.tmpfiles \
		$(DESTDIR)$(PREFIX)/share/doc/mogen/examples/

clean:
	rm -rf $(BUILD) client/python/mogen/_fastpath*.so

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
