//! Export benchmarks (filled in below).

fn main() {}
