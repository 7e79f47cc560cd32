//! vk-bin integration tests: the built `vk-aci` binary, one module per subcommand area.

// `vk-aci translate` and `vk-aci check` on the shared examples and bad input.
mod translate_check;
// `--resolve-images` against a real registry (Debian's docker-registry).
mod resolve_images;
// End to end: fake API server + emulator + `vk-aci run` as a child process + real kubectl.
mod e2e;
// deploy/kustomize rendered and checked against `vk-aci run --help`; startup validation.
mod deploy;
// deploy/helm/vk-aci rendered with helm and checked against the binary.
mod helm;
// Where the tests find kubectl (VK_KUBECTL_1_27, VK_KUBECTL, VK_KUBECTL_DIR).
mod kubectl;
