//! The parser: precedence climbing over the lexer's tokens.
//!
//! Binding strength, tightest first (CESQL v1 §3.6): function invocations, literals,
//! identifiers and parentheses; unary `NOT` and `-`; `LIKE`; `EXISTS`; `IN`; `*` `/`
//! `%`; `+` `-`; comparisons; `AND` `OR` `XOR`. Operators of equal strength associate
//! to the left. Note that unary operators bind tighter than every binary operator, so
//! `NOT a = b` is `(NOT a) = b`, as in the specification's grammar.

use crate::ast::{BinaryOp, Expr, ExprKind, Span, UnaryOp};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Spanned, Token, tokenize};
use crate::like::LikePattern;
use crate::value::Value;

/// The deepest nesting an expression may have; deeper input is a parse error rather
/// than a stack overflow.
pub const MAX_DEPTH: usize = 128;

const LIKE_PRECEDENCE: u8 = 6;
const IN_PRECEDENCE: u8 = 5;

/// Parses a whole expression.
pub(crate) fn parse(source: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        source,
        tokens,
        position: 0,
        depth: 0,
    };
    let expr = parser.expression(0)?;
    let next = parser.peek();
    if next.token != Token::End {
        return Err(parser.error(
            next.span,
            format!(
                "expected end of expression, found {}",
                next.token.describe()
            ),
        ));
    }
    Ok(expr)
}

struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Spanned>,
    position: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Spanned {
        let last = self.tokens.len() - 1;
        &self.tokens[self.position.min(last)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.position + ahead).min(last)].token
    }

    fn advance(&mut self) -> Spanned {
        let token = self.peek().clone();
        if token.token != Token::End {
            self.position += 1;
        }
        token
    }

    fn error(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.source, span, message)
    }

    fn expect(&mut self, expected: &Token, what: &str) -> Result<Span, ParseError> {
        let next = self.advance();
        if &next.token == expected {
            Ok(next.span)
        } else {
            Err(self.error(
                next.span,
                format!("expected {what}, found {}", next.token.describe()),
            ))
        }
    }

    fn enter(&mut self, span: Span, extra: usize) -> Result<(), ParseError> {
        if self.depth + extra > MAX_DEPTH {
            return Err(self.error(
                span,
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    /// An expression whose operators all bind at least as tightly as `min_precedence`.
    fn expression(&mut self, min_precedence: u8) -> Result<Expr, ParseError> {
        self.depth += 1;
        let result = self.expression_inner(min_precedence);
        self.depth -= 1;
        result
    }

    fn expression_inner(&mut self, min_precedence: u8) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        let mut chain = 0;
        loop {
            let next = self.peek().clone();
            let negated = next.token == Token::Not;
            let operator = if negated {
                self.peek_at(1).clone()
            } else {
                next.token.clone()
            };
            let precedence = match &operator {
                Token::Like => LIKE_PRECEDENCE,
                Token::In => IN_PRECEDENCE,
                _ if negated => break,
                other => match binary_op(other) {
                    Some(op) => op.precedence(),
                    None => break,
                },
            };
            if precedence < min_precedence {
                break;
            }
            chain += 1;
            self.enter(next.span, chain)?;
            if negated {
                self.advance();
            }
            self.advance();
            left = match operator {
                Token::Like => self.like(left, negated)?,
                Token::In => self.in_set(left, negated)?,
                other => {
                    let Some(op) = binary_op(&other) else { break };
                    let right = self.expression(precedence + 1)?;
                    let span = left.span.to(right.span);
                    Expr {
                        kind: ExprKind::Binary {
                            op,
                            left: Box::new(left),
                            right: Box::new(right),
                        },
                        span,
                    }
                }
            };
        }
        Ok(left)
    }

    fn like(&mut self, value: Expr, negated: bool) -> Result<Expr, ParseError> {
        let next = self.advance();
        let Token::Str(pattern) = next.token else {
            return Err(self.error(
                next.span,
                format!(
                    "the pattern of LIKE must be a string literal, found {}",
                    next.token.describe()
                ),
            ));
        };
        let span = value.span.to(next.span);
        Ok(Expr {
            kind: ExprKind::Like {
                value: Box::new(value),
                pattern: LikePattern::new(&pattern),
                negated,
            },
            span,
        })
    }

    fn in_set(&mut self, value: Expr, negated: bool) -> Result<Expr, ParseError> {
        self.expect(&Token::LeftParen, "`(` to open the set of IN")?;
        if self.peek().token == Token::RightParen {
            let span = self.peek().span;
            return Err(self.error(span, "the set of IN must not be empty"));
        }
        let mut set = vec![self.expression(0)?];
        while self.peek().token == Token::Comma {
            self.advance();
            set.push(self.expression(0)?);
        }
        let close = self.expect(&Token::RightParen, "`,` or `)` in the set of IN")?;
        let span = value.span.to(close);
        Ok(Expr {
            kind: ExprKind::In {
                value: Box::new(value),
                set,
                negated,
            },
            span,
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let next = self.peek().clone();
        match next.token {
            Token::Not | Token::Minus => {
                self.advance();
                if next.token == Token::Minus
                    && let Token::Number(digits) = self.peek().token.clone()
                {
                    let number = self.advance();
                    return self.integer(&digits, true, next.span.to(number.span));
                }
                self.depth += 1;
                self.enter(next.span, 0)?;
                let operand = self.unary();
                self.depth -= 1;
                let operand = operand?;
                let op = if next.token == Token::Not {
                    UnaryOp::Not
                } else {
                    UnaryOp::Negate
                };
                let span = next.span.to(operand.span);
                Ok(Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    span,
                })
            }
            Token::Plus => {
                self.advance();
                let number = self.advance();
                match number.token {
                    Token::Number(digits) => {
                        self.integer(&digits, false, next.span.to(number.span))
                    }
                    _ => Err(self.error(
                        next.span,
                        "unary `+` is only allowed as the sign of an integer literal",
                    )),
                }
            }
            Token::Exists => {
                self.advance();
                let name = self.advance();
                match name.token {
                    Token::Word(word) => {
                        self.check_identifier(&word, name.span)?;
                        Ok(Expr {
                            kind: ExprKind::Exists(word),
                            span: next.span.to(name.span),
                        })
                    }
                    other => Err(self.error(
                        name.span,
                        format!(
                            "expected an attribute name after EXISTS, found {}",
                            other.describe()
                        ),
                    )),
                }
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let next = self.advance();
        let literal = |value| Expr {
            kind: ExprKind::Literal(value),
            span: next.span,
        };
        match next.token {
            Token::Number(ref digits) => self.integer(digits, false, next.span),
            Token::Str(ref text) => Ok(literal(Value::String(text.clone()))),
            Token::True => Ok(literal(Value::Boolean(true))),
            Token::False => Ok(literal(Value::Boolean(false))),
            Token::Word(ref word) => {
                if self.peek().token == Token::LeftParen {
                    self.call(word, next.span)
                } else {
                    self.check_identifier(word, next.span)?;
                    Ok(Expr {
                        kind: ExprKind::Identifier(word.clone()),
                        span: next.span,
                    })
                }
            }
            Token::LeftParen => {
                self.enter(next.span, 1)?;
                let mut inner = self.expression(0)?;
                let close = self.expect(&Token::RightParen, "`)`")?;
                // The node covers its parentheses, so traces show them.
                inner.span = next.span.to(close);
                Ok(inner)
            }
            other => Err(self.error(
                next.span,
                format!("expected an expression, found {}", other.describe()),
            )),
        }
    }

    fn call(&mut self, name: &str, name_span: Span) -> Result<Expr, ParseError> {
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid {
            return Err(self.error(
                name_span,
                format!("invalid function name `{name}`: use letters and `_`"),
            ));
        }
        self.enter(name_span, 1)?;
        self.advance();
        let mut args = Vec::new();
        if self.peek().token != Token::RightParen {
            self.depth += 1;
            let parsed = self.arguments(&mut args);
            self.depth -= 1;
            parsed?;
        }
        let close = self.expect(&Token::RightParen, "`,` or `)` after a function argument")?;
        Ok(Expr {
            kind: ExprKind::Call {
                name: name.to_owned(),
                function: functions::resolve(name, args.len()),
                args,
            },
            span: name_span.to(close),
        })
    }

    fn arguments(&mut self, args: &mut Vec<Expr>) -> Result<(), ParseError> {
        args.push(self.expression(0)?);
        while self.peek().token == Token::Comma {
            self.advance();
            args.push(self.expression(0)?);
        }
        Ok(())
    }

    fn integer(&self, digits: &str, negative: bool, span: Span) -> Result<Expr, ParseError> {
        let magnitude: Option<i64> = digits.parse().ok();
        let value = magnitude
            .map(|magnitude| if negative { -magnitude } else { magnitude })
            .and_then(|value| i32::try_from(value).ok());
        match value {
            Some(value) => Ok(Expr {
                kind: ExprKind::Literal(Value::Integer(value)),
                span,
            }),
            None => Err(self.error(
                span,
                "integer literal out of range (-2147483648 to 2147483647)",
            )),
        }
    }

    fn check_identifier(&self, word: &str, span: Span) -> Result<(), ParseError> {
        if word
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        {
            Ok(())
        } else {
            Err(self.error(
                span,
                format!("invalid attribute name `{word}`: use lowercase letters and digits"),
            ))
        }
    }
}

fn binary_op(token: &Token) -> Option<BinaryOp> {
    Some(match token {
        Token::Star => BinaryOp::Multiply,
        Token::Slash => BinaryOp::Divide,
        Token::Percent => BinaryOp::Modulo,
        Token::Plus => BinaryOp::Add,
        Token::Minus => BinaryOp::Subtract,
        Token::Equal => BinaryOp::Equal,
        Token::NotEqual => BinaryOp::NotEqual,
        Token::Less => BinaryOp::Less,
        Token::LessOrEqual => BinaryOp::LessOrEqual,
        Token::Greater => BinaryOp::Greater,
        Token::GreaterOrEqual => BinaryOp::GreaterOrEqual,
        Token::And => BinaryOp::And,
        Token::Or => BinaryOp::Or,
        Token::Xor => BinaryOp::Xor,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
