//! Kubernetes' `$(VAR)` expansion of env values, `command` and `args`, as the kubelet does it.
//!
//! The rules (Kubernetes `third_party/forked/golang/expansion`):
//! - `$(NAME)` is replaced by the value of `NAME` when the mapping knows it; an unknown name
//!   stays verbatim, `$(NAME)` included;
//! - `$$` is an escaped `$`: it becomes one `$` and the text after it is not a reference
//!   (`$$(A)` gives `$(A)`);
//! - a `$` followed by anything else, or `$(` with no closing `)`, stays as it is;
//! - what a mapping returns is never expanded again.
//!
//! Which names a string may use is the caller's business: an env value sees the variables
//! defined before it (envFrom, then earlier `env` entries), `command` and `args` see the whole
//! environment.

/// Expands `input` with `mapping`; names the mapping does not know stay as `$(NAME)`.
pub fn expand<'a>(input: &str, mut mapping: impl FnMut(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(input.len());
    for piece in pieces(input) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Reference(name) => match mapping(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            },
        }
    }
    out
}

/// The names `input` references, in order (escaped `$$(NAME)` excluded).
pub fn references(input: &str) -> Vec<&str> {
    pieces(input)
        .filter_map(|p| match p {
            Piece::Reference(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// A part of an input string.
enum Piece<'a> {
    /// Literal text, copied as is.
    Text(&'a str),
    /// A `$(NAME)` reference, by name.
    Reference(&'a str),
}

/// Splits a string into literal text and references, left to right, as Kubernetes' `Expand`
/// scans it.
fn pieces(input: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = input;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(pos) = rest.find('$') else {
            let text = rest;
            rest = "";
            return Some(Piece::Text(text));
        };
        if pos > 0 {
            let text = &rest[..pos];
            rest = &rest[pos..];
            return Some(Piece::Text(text));
        }
        // `rest` starts with `$`.
        let after = &rest[1..];
        if let Some(tail) = after.strip_prefix('$') {
            // `$$`: one literal `$`.
            rest = tail;
            return Some(Piece::Text("$"));
        }
        if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            rest = &inner[close + 1..];
            return Some(Piece::Reference(&inner[..close]));
        }
        // A lone `$`, `$x` or an unclosed `$(`: the `$` is literal, scanning goes on after it.
        rest = after;
        Some(Piece::Text("$"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map<'a>(vars: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<&'a str> {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn known_references_should_be_replaced_and_unknown_kept() {
        let vars = [("A", "x"), ("B", "$(A)")];
        assert_eq!(expand("$(A)-$(C)", map(&vars)), "x-$(C)");
        // A value is not expanded again.
        assert_eq!(expand("$(B)", map(&vars)), "$(A)");
    }

    #[test]
    fn dollar_escapes_should_follow_the_kubelet() {
        let vars = [("A", "x")];
        // Cases from Kubernetes' expansion tests.
        for (input, want) in [
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$x"),
            ("$$$$(A)", "$$(A)"),
            ("$(A", "$(A"),
            ("$A", "$A"),
            ("$", "$"),
            ("a$", "a$"),
            ("$()", "$()"),
            ("$(A)$(A)", "xx"),
            ("$($(A))", "$($(A))"),
            ("(A)", "(A)"),
            ("é$(A)ü", "éxü"),
        ] {
            assert_eq!(expand(input, map(&vars)), want, "{input}");
        }
    }

    #[test]
    fn references_should_skip_escaped_ones() {
        assert_eq!(references("$(A) $$(B) $(C"), vec!["A"]);
        assert_eq!(references("$$$(A)"), vec!["A"]);
    }

    proptest::proptest! {
        #[test]
        fn expansion_should_never_panic_and_keep_text_without_dollars(input in "\\PC{0,40}") {
            let vars = [("A", "x")];
            let out = expand(&input, map(&vars));
            if !input.contains('$') {
                proptest::prop_assert_eq!(out, input.clone());
            }
            let _ = references(&input);
        }

        #[test]
        fn expansion_with_no_variables_should_only_unescape(input in "[$()A-C]{0,30}") {
            let out = expand(&input, |_| None);
            proptest::prop_assert!(out.len() <= input.len());
        }
    }
}
