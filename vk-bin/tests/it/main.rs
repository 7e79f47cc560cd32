//! vk-bin integration tests: the built `vk-aci` binary, one module per subcommand area.

// `vk-aci translate` and `vk-aci check` on the shared examples and bad input.
mod translate_check;
