//! The integration tests, as one test crate: one link per change instead of one per file,
//! and one process running them in parallel. Each module is one area; `support` holds what
//! they share (test servers, the C toolchain, clean environments, the emulator).
//!
//! Three test crates stay apart because they own something process-wide:
//! `tests/alloc_budget.rs` installs a counting global allocator, and `tests/faults.rs` and
//! `tests/hardening.rs` install the library's process-wide log sink to read its lines.

#[path = "../support/mod.rs"]
mod support;

mod botocore_oracle;
mod c_async;
mod c_harness;
mod conformance;
mod cpp_wrapper;
mod credentials;
mod derived_docs;
mod doc_links;
mod emulator_e2e;
mod emulator_errors;
mod endpoint_rules;
mod fuzz_smoke;
mod generated;
mod header;
mod install;
mod layers;
mod model_agreement;
mod outbox;
mod outbox_coalesce;
mod outbox_durability;
mod outbox_leases;
mod outbox_pacing;
mod outbox_postgres;
mod outbox_safety;
mod public_api;
mod python_binding;
mod round_trips;
mod tls;
