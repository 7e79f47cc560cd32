//! Shared set-up for the benchmarks and the load scenario (see README's figures).
