# nnlens build, site, demo, test and benchmark targets. See README.md.
#   make pkg    npm package in pkg/ (wasm32 + SIMD128, LTO, wasm-bindgen --target web, wasm-opt -Oz),
#               with the threaded build in pkg/threads/ (fetched only in cross-origin isolated pages)
#               and a relaxed-SIMD form of each build beside it (nnlens_bg_relaxed.wasm)
#   make site   the static site in site/ (www/ plus the package, the docs rendered to HTML;
#               relative URLs only)
#   make demo   make site, then serve site/ on http://localhost:8080
#   make test   native cargo test, wasm-bindgen-test in headless Chromium, Node, page and package
#               consumer tests (the docs' embedding recipes among them)
#   make bench  the side-by-side browser benchmark and the native kernel benchmarks
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
WASM := target/wasm32-unknown-unknown/release/nnlens.wasm
# The relaxed-SIMD build (src/graph/madd.rs): the same sources with f32x4.relaxed_madd in the
# kernels, in its own target directory so the two builds' flags never invalidate each other.
RELAXED_TARGET := target/relaxed
RELAXED_WASM := $(RELAXED_TARGET)/wasm32-unknown-unknown/release/nnlens.wasm
# A wasm file's imports and exports (module, name and signature, without the internal names a
# name section may give them), one per line: what wasm-bindgen's glue relies on.
WASM_INTERFACE := wasm_interface() { npx --no-install wasm-dis "$$1" | grep -E '^ \((import|export) ' \
  | grep -oE '^ \((import|export) "[^"]*"( "[^"]*")?|\((param|result)[^)]*\)'; }; wasm_interface
PORT ?= 8080
# The threaded build (pkg/threads/): the pinned nightly of scripts/install-tools.sh rebuilds std
# with atomics (-Z build-std); shared memory imported by the glue, up to 4 GiB like the
# single-thread build's, and the thread-local storage symbols wasm-bindgen's thread start needs.
# Its own target directory, so the two builds' flags never invalidate each other.
THREADS_NIGHTLY := $(shell sed -n 's/^THREADS_NIGHTLY=//p' scripts/install-tools.sh)
THREADS_TARGET := target/threads
THREADS_WASM := $(THREADS_TARGET)/wasm32-unknown-unknown/release/nnlens.wasm
THREADS_RELAXED_TARGET := target/threads-relaxed
THREADS_RELAXED_WASM := $(THREADS_RELAXED_TARGET)/wasm32-unknown-unknown/release/nnlens.wasm
THREADS_RUSTFLAGS := -C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128 \
  -C link-arg=--shared-memory -C link-arg=--max-memory=4294967296 -C link-arg=--import-memory \
  $(foreach symbol,__wasm_init_tls __tls_size __tls_align __tls_base,-C link-arg=--export=$(symbol))
WASM_OPT_FEATURES := --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue
# Kernels wasm-opt must not inline (it inlines every function with one caller): inlined into
# their caller, V8 no longer keeps their accumulators in registers, and PCA's Gram kernel
# (src/project/gram.rs) loses its gain (BENCHMARKS.md, Kernel decisions › PCA).
NO_INLINE := '--no-inline=nnlens::project::gram::tile*'
export CHROMEDRIVER ?= /usr/bin/chromedriver
export CHROMIUM ?= /usr/bin/chromium

.PHONY: pkg site demo test test-native test-wasm test-node test-page test-consumers test-bench bench tools browser recipe-tools clean

tools:
	@scripts/install-tools.sh build

browser:
	@scripts/install-tools.sh browser

recipe-tools:
	@scripts/install-tools.sh recipes

# The package and the site are file targets: they are rebuilt only when one of their inputs is
# newer (the sources, the build configuration, this Makefile for the wasm-opt flags, the package
# metadata; www/ and the package for the site), so `make demo` on an unchanged tree starts at
# once. A failed step deletes its target (.DELETE_ON_ERROR), so it is redone next time.
PKG_INPUTS := $(shell find src -type f) Cargo.toml Cargo.lock .cargo/config.toml Makefile scripts/freed-object-message.mjs \
  scripts/relaxed-simd-loader.mjs
SITE_INPUTS := $(shell find www -type f) scripts/render-docs.mjs

.DELETE_ON_ERROR:

ELEMENTS_FILES := $(wildcard js/*.js js/*.d.ts)

pkg: pkg/nnlens.js pkg/nnlens_bg_relaxed.wasm pkg/threads/nnlens_bg_relaxed.wasm pkg/package.json pkg/README.md pkg/LICENSE-MIT pkg/LICENSE-APACHE pkg/elements.js

# The single-thread build: wasm-bindgen's glue is pkg/nnlens_single.js (pkg/nnlens.js is the
# entry that chooses a build, below).
pkg/nnlens_bg.wasm: $(PKG_INPUTS) | tools
	cargo build --lib --release --target wasm32-unknown-unknown
	mkdir -p pkg && rm -f pkg/nnlens*
	wasm-bindgen --target web --out-dir pkg --out-name nnlens $(WASM)
	mv pkg/nnlens.js pkg/nnlens_single.js
	node scripts/freed-object-message.mjs pkg/nnlens_single.js
	node scripts/relaxed-simd-loader.mjs pkg/nnlens_single.js
	npx --no-install wasm-opt $(NO_INLINE) -Oz $(WASM_OPT_FEATURES) pkg/nnlens_bg.wasm -o pkg/nnlens_bg.wasm
	@echo "pkg/: $$(wc -c < pkg/nnlens_bg.wasm) bytes wasm, $$(wc -c < pkg/nnlens_single.js) bytes js"

# The threaded build (the `threads` feature: rayon on Web Workers through wasm-bindgen-rayon).
pkg/threads/nnlens_bg.wasm: $(PKG_INPUTS) scripts/install-tools.sh | tools
	RUSTFLAGS='$(THREADS_RUSTFLAGS)' cargo +$(THREADS_NIGHTLY) build --lib --release \
	  --target wasm32-unknown-unknown --features threads -Z build-std=panic_abort,std --target-dir $(THREADS_TARGET)
	rm -rf pkg/threads
	wasm-bindgen --target web --no-typescript --out-dir pkg/threads --out-name nnlens $(THREADS_WASM)
	node scripts/freed-object-message.mjs pkg/threads/nnlens.js
	node scripts/relaxed-simd-loader.mjs pkg/threads/nnlens.js
	npx --no-install wasm-opt $(NO_INLINE) -Oz $(WASM_OPT_FEATURES) --enable-threads \
	  pkg/threads/nnlens_bg.wasm -o pkg/threads/nnlens_bg.wasm
	@echo "pkg/threads/: $$(wc -c < pkg/threads/nnlens_bg.wasm) bytes wasm"

# The entry module and its declarations (init's `threads` option), from both glues.
pkg/nnlens.js: pkg/nnlens_bg.wasm pkg/threads/nnlens_bg.wasm scripts/loader.mjs
	node scripts/loader.mjs pkg/nnlens_single.js pkg/threads/nnlens.js pkg/nnlens.js pkg/nnlens.d.ts

# A relaxed-SIMD wasm beside a build's plain one ($<), driven by the same glue: $(1) is the cargo
# build with its flags, $(2) its target directory, $(3) the wasm it writes, $(4) wasm-opt's extra
# features. The build fails unless its imports and exports are those of $<.
define relaxed_simd_wasm
$(1) --target-dir $(2)
wasm-bindgen --target web --no-typescript --out-dir $(2)/bindgen --out-name nnlens $(3)
npx --no-install wasm-opt $(NO_INLINE) -Oz $(WASM_OPT_FEATURES) $(4) --enable-relaxed-simd $(2)/bindgen/nnlens_bg.wasm -o $@
diff <($(WASM_INTERFACE) $<) <($(WASM_INTERFACE) $@) || { rm -f $@; echo "$@ does not have the imports and exports of $<"; exit 1; }
@echo "$@: $$(wc -c < $@) bytes relaxed-SIMD wasm"
endef

RELAXED_CARGO = RUSTFLAGS='-C target-feature=+simd128,+relaxed-simd' cargo build --lib --release \
  --target wasm32-unknown-unknown
THREADS_RELAXED_CARGO = RUSTFLAGS='$(THREADS_RUSTFLAGS) -C target-feature=+relaxed-simd' \
  cargo +$(THREADS_NIGHTLY) build --lib --release --target wasm32-unknown-unknown --features threads \
  -Z build-std=panic_abort,std

# The single-thread build's (nnlens_single.js drives it) and the threaded build's
# (threads/nnlens.js).
pkg/nnlens_bg_relaxed.wasm: pkg/nnlens_bg.wasm
	$(call relaxed_simd_wasm,$(RELAXED_CARGO),$(RELAXED_TARGET),$(RELAXED_WASM),)

pkg/threads/nnlens_bg_relaxed.wasm: pkg/threads/nnlens_bg.wasm
	$(call relaxed_simd_wasm,$(THREADS_RELAXED_CARGO),$(THREADS_RELAXED_TARGET),$(THREADS_RELAXED_WASM),--enable-threads)

pkg/package.json: scripts/pkg-package.json
	mkdir -p pkg && cp $< $@

# The package's own README (install, init, elements), not the repository's, and the licences.
pkg/README.md: scripts/pkg-README.md
	mkdir -p pkg && cp $< $@

pkg/LICENSE-%: LICENSE-%
	mkdir -p pkg && cp $< $@

# The web components (nnlens/elements): plain modules beside nnlens.js, which they import, and
# their declarations.
pkg/elements.js: $(ELEMENTS_FILES)
	mkdir -p pkg && cp $(ELEMENTS_FILES) pkg/

site: pkg site/index.html

site/index.html: $(SITE_INPUTS) pkg/nnlens.js pkg/nnlens_bg_relaxed.wasm pkg/threads/nnlens_bg_relaxed.wasm pkg/elements.js
	rm -rf site && mkdir -p site
	cp -r www/. site/
	node scripts/render-docs.mjs site/docs
	mkdir -p site/pkg && cp pkg/nnlens.js pkg/nnlens_single.js pkg/nnlens_bg.wasm pkg/nnlens_bg_relaxed.wasm pkg/nnlens.d.ts $(ELEMENTS_FILES:js/%=pkg/%) site/pkg/
	cp -r pkg/threads site/pkg/
	@echo "site/ is ready: copy it to any static host"

# Served cross-origin isolated (COOP/COEP headers), so the page runs the threaded build.
demo: site
	@echo "nnlens demo: http://localhost:$(PORT)/ (cross-origin isolated: threads)"
	node scripts/serve.mjs site $(PORT) / --isolated

test: test-native test-wasm test-node test-page test-consumers test-bench

# Then the library's tests again with the `threads` feature: every loop of `crate::parallel`
# shared with rayon's pool (natively), so each kernel's tests also check its threaded split.
test-native:
	cargo test
	cargo test --lib --features threads

# The boundary tests (tests/web.rs, headless Chromium) and the kernels' unit tests compiled for
# wasm32 (in Node; the modules that opt in run on the SIMD128 kernels, plain #[test]s are built
# but not run there).
test-wasm: tools browser
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --target wasm32-unknown-unknown --lib --test web

# The package in Node 20; tests/node/types.test.mjs also compiles tests/types/consumer.ts against
# pkg/nnlens.d.ts with the repository's TypeScript (`tsc --strict --lib es2022,dom`).
test-node: site
	node --test tests/node/

# The page tests, then a representative subset again with the site served cross-origin isolated
# (NNLENS_ISOLATED=1: COOP/COEP headers), where the pages, their workers and the Playground run
# the threaded build.
ISOLATED_PAGE_TESTS := tests/e2e/page.test.mjs tests/e2e/playground.test.mjs tests/e2e/csp.test.mjs tests/e2e/elements.test.mjs

test-page: site browser
	node --test --test-concurrency=1 tests/e2e/
	NNLENS_ISOLATED=1 node --test --test-concurrency=1 $(ISOLATED_PAGE_TESTS)

# The package as its users get it: `npm pack` of pkg/ (exactly the package's files; prints the
# packed size), the tarball installed with npm into a temporary directory and used from a Vite
# app (JavaScript and TypeScript, `vite build`, run in Chromium), a plain HTML page loading
# elements.js by relative path, a Node script using initSync, and strict `tsc` on examples
# importing `nnlens` and `nnlens/elements` by name; then the docs' embedding recipes built with
# their real tools (plain HTML, mdBook, Sphinx, a Jupyter notebook through nbconvert, Docusaurus)
# and checked in Chromium (tests/consumers/).
test-consumers: pkg browser recipe-tools
	node --test tests/consumers/

# The benchmark harness in quick mode (tiny sizes, one sample, no timing assertions), so it
# cannot rot: every row, cold-start page and package size must produce a finite number.
test-bench: site browser
	node --test tests/bench/

# Native kernel GFLOP/s (criterion), then the side-by-side browser benchmark against TF.js,
# onnxruntime-web and ml-pca; prints the tables and writes them into BENCHMARKS.md.
bench: site browser
	cargo bench --bench kernels
	node benches/run.mjs

clean:
	rm -rf pkg site
