//! The function registry: every function an expression may call, resolved by name
//! (case-insensitive) and arity when the expression is parsed.
//!
//! A call that matches no registered overload still parses: it evaluates to `false`
//! with a `missingFunction` error, as CESQL v1 §3.5 requires, and
//! [`Expression::missing_functions`](crate::Expression::missing_functions) lists such
//! calls so that callers can reject them before running anything.
//!
//! Built-ins: `ABS`, `LENGTH`, `CONCAT`, `CONCAT_WS`, `LOWER`, `UPPER`,
//! `TRIM`, `LEFT`, `RIGHT`, `SUBSTRING` (2 and 3 arguments), the casts `INT`, `BOOL`,
//! `STRING` and the predicates `IS_INT`, `IS_BOOL`, `IS_STRING`. weft's data extension
//! (the [`crate::data`] module): `DATA`, `DATA_STRING`, `DATA_INT`, `DATA_BOOL`,
//! `DATA_EXISTS`.

pub(crate) mod builtin;

use crate::data;
use crate::error::EvalError;
use crate::eval::Context;
use crate::value::{Type, Val};

/// What a function body returns: its value (always of the declared return type) and
/// the error it raised, if any.
pub(crate) type Outcome<'a> = (Val<'a>, Option<EvalError>);

/// A function body: gets the arguments already cast to the parameter types.
pub(crate) type Body = for<'a> fn(&Context<'a>, Vec<Val<'a>>) -> Outcome<'a>;

/// A parameter's type: a CESQL type the argument is cast to, or any type (no cast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Of(Type),
    Any,
}

/// One registered function overload.
pub struct Function {
    name: &'static str,
    params: &'static [Param],
    /// `Some(param)`: after `params`, any number of further arguments of this type.
    variadic: Option<Param>,
    returns: Type,
    body: Body,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.signature())
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.params == other.params && self.variadic == other.variadic
    }
}

impl Function {
    pub(crate) const fn fixed(
        name: &'static str,
        params: &'static [Param],
        returns: Type,
        body: Body,
    ) -> Self {
        Self {
            name,
            params,
            variadic: None,
            returns,
            body,
        }
    }

    pub(crate) const fn variadic(
        name: &'static str,
        params: &'static [Param],
        rest: Param,
        returns: Type,
        body: Body,
    ) -> Self {
        Self {
            name,
            params,
            variadic: Some(rest),
            returns,
            body,
        }
    }

    /// The function's name, uppercase.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The type every call returns, even when it fails.
    pub fn returns(&self) -> Type {
        self.returns
    }

    /// The signature as the specification writes it, e.g.
    /// `SUBSTRING(String, Integer, Integer) -> String`.
    pub fn signature(&self) -> String {
        let mut params: Vec<String> = self.params.iter().map(|param| param_name(*param)).collect();
        if let Some(rest) = self.variadic {
            params.push(format!("{}...", param_name(rest)));
        }
        format!("{}({}) -> {}", self.name, params.join(", "), self.returns)
    }

    fn accepts(&self, arity: usize) -> bool {
        match self.variadic {
            Some(_) => arity >= self.params.len(),
            None => arity == self.params.len(),
        }
    }

    /// The parameter the argument at `index` is cast to.
    pub(crate) fn param(&self, index: usize) -> Param {
        self.params
            .get(index)
            .copied()
            .or(self.variadic)
            .unwrap_or(Param::Any)
    }

    pub(crate) fn call<'a>(&self, context: &Context<'a>, args: Vec<Val<'a>>) -> Outcome<'a> {
        (self.body)(context, args)
    }
}

fn param_name(param: Param) -> String {
    match param {
        Param::Of(ty) => ty.to_string(),
        Param::Any => "Any".to_owned(),
    }
}

/// Every registered overload, built-ins first.
pub fn all() -> impl Iterator<Item = &'static Function> {
    builtin::FUNCTIONS.iter().chain(data::FUNCTIONS.iter())
}

/// The overload of `name` (any case) taking `arity` arguments, if one is registered.
pub fn resolve(name: &str, arity: usize) -> Option<&'static Function> {
    all().find(|function| function.name.eq_ignore_ascii_case(name) && function.accepts(arity))
}

/// Whether any overload of `name` (any case) is registered.
pub fn is_registered(name: &str) -> bool {
    all().any(|function| function.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively_by_arity() {
        assert!(resolve("substring", 2).is_some());
        assert!(resolve("SubString", 3).is_some());
        assert!(resolve("SUBSTRING", 4).is_none());
        assert!(resolve("concat", 0).is_some());
        assert!(resolve("concat_ws", 0).is_none());
        assert!(resolve("concat_ws", 5).is_some());
        assert!(resolve("nope", 1).is_none());
        assert!(is_registered("data_int"));
    }

    #[test]
    fn variadic_overloads_follow_the_specification_rule() {
        // A variadic overload's fixed arguments must outnumber every fixed overload's
        // arity (CESQL v1 §3.5), so that no call is ambiguous.
        for variadic in all().filter(|function| function.variadic.is_some()) {
            for other in
                all().filter(|other| other.name == variadic.name && other.variadic.is_none())
            {
                assert!(
                    variadic.params.len() > other.params.len(),
                    "{variadic:?} vs {other:?}"
                );
            }
        }
    }

    #[test]
    fn signatures_read_like_the_specification() {
        let substring = resolve("SUBSTRING", 3).map(Function::signature);
        assert_eq!(
            substring.as_deref(),
            Some("SUBSTRING(String, Integer, Integer) -> String")
        );
        let concat = resolve("CONCAT", 1).map(Function::signature);
        assert_eq!(concat.as_deref(), Some("CONCAT(String...) -> String"));
    }
}
