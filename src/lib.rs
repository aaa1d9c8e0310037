//! Examples and end-to-end tests of aurora-krb live in `examples/` and `tests/`.
