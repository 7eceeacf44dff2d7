//! What a catalog's messages look like from outside: their ids and the variables each one uses,
//! read from the parsed Fluent entries (for the parity tests and for checking overrides).

use fluent_bundle::FluentResource;
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};
use std::collections::{BTreeMap, BTreeSet};

/// The outside of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageShape {
    /// The variables it uses (`$name` as `name`), in every variant.
    pub variables: BTreeSet<String>,
}

/// The messages of a catalog source, by id; a source that does not parse has only the messages
/// that parsed (the catalog tests parse every shipped source strictly).
pub fn shapes(source: &str) -> BTreeMap<String, MessageShape> {
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(r) | Err((r, _)) => r,
    };
    entries(resource.body.iter())
}

/// The messages of a parsed resource, by id.
pub(crate) fn resource_shapes(resource: &FluentResource) -> BTreeMap<String, MessageShape> {
    entries(resource.entries())
}

fn entries<'a>(
    entries: impl Iterator<Item = &'a Entry<&'a str>>,
) -> BTreeMap<String, MessageShape> {
    entries
        .filter_map(|e| match e {
            Entry::Message(m) => {
                let mut shape = MessageShape::default();
                if let Some(p) = &m.value {
                    pattern(p, &mut shape.variables);
                }
                Some((m.id.name.to_owned(), shape))
            }
            _ => None,
        })
        .collect()
}

fn pattern(p: &Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let PatternElement::Placeable { expression } = element {
            expr(expression, out);
        }
    }
}

fn expr(e: &Expression<&str>, out: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline(selector, out);
            for v in variants {
                pattern(&v.value, out);
            }
        }
        Expression::Inline(i) => inline(i, out),
    }
}

fn inline(i: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline(a, out);
            }
            for a in &arguments.named {
                inline(&a.value, out);
            }
        }
        InlineExpression::TermReference {
            arguments: Some(arguments),
            ..
        } => {
            for a in &arguments.positional {
                inline(a, out);
            }
        }
        InlineExpression::Placeable { expression } => expr(expression, out),
        _ => {}
    }
}
