//! The fake API server held to a real API server's behaviour where kube-rs and kubectl
//! depend on it.

// Create, get, replace, patch, delete and their errors.
mod crud;
// list and watch: resourceVersion resumption, 410, bookmarks, selectors.
mod watch;
