//! `mymcp` binary. Everything lives in the library (`src/lib.rs`); keeping the binary this
//! thin lets the library's modules stay private, so rustc reports dead code in them.

// musl's malloc takes a global lock; see benches/alloc.sh and docs/decisions.md.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mymcp::main()
}
