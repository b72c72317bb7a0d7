//! The lexer: turns expression text into [`Token`]s with spans.
//!
//! Keywords are case-insensitive. Words are runs of ASCII letters, digits and `_`; the
//! parser decides whether a word is an attribute name or a function name. A run of
//! digits is an integer literal (its sign is handled by the parser). Strings are `'…'`
//! or `"…"`; inside them a backslash followed by the delimiting quote, or a doubled
//! delimiting quote, stands for the quote itself, and every other backslash is kept as
//! written (so `LIKE` patterns can carry `\%` and `\_`).

use crate::ast::Span;
use crate::error::ParseError;

/// A token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A run of decimal digits.
    Number(String),
    /// A string literal's value.
    Str(String),
    /// An identifier or function name.
    Word(String),
    And,
    Or,
    Xor,
    Not,
    Like,
    In,
    Exists,
    True,
    False,
    LeftParen,
    RightParen,
    Comma,
    Star,
    Slash,
    Percent,
    Plus,
    Minus,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    End,
}

impl Token {
    /// How the token is described in error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Number(digits) => format!("integer `{digits}`"),
            Token::Str(_) => "string literal".to_owned(),
            Token::Word(word) => format!("`{word}`"),
            Token::End => "end of expression".to_owned(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Token::And => "AND",
            Token::Or => "OR",
            Token::Xor => "XOR",
            Token::Not => "NOT",
            Token::Like => "LIKE",
            Token::In => "IN",
            Token::Exists => "EXISTS",
            Token::True => "TRUE",
            Token::False => "FALSE",
            Token::LeftParen => "(",
            Token::RightParen => ")",
            Token::Comma => ",",
            Token::Star => "*",
            Token::Slash => "/",
            Token::Percent => "%",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Equal => "=",
            Token::NotEqual => "!=",
            Token::Less => "<",
            Token::LessOrEqual => "<=",
            Token::Greater => ">",
            Token::GreaterOrEqual => ">=",
            Token::Number(_) | Token::Str(_) | Token::Word(_) | Token::End => "",
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spanned {
    pub(crate) token: Token,
    pub(crate) span: Span,
}

/// Splits `source` into tokens, ending with [`Token::End`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Spanned>, ParseError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        let token = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                position += 1;
                continue;
            }
            b'\'' | b'"' => {
                let (value, end) = string(source, start)?;
                position = end;
                Token::Str(value)
            }
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while position < bytes.len()
                    && (bytes[position].is_ascii_alphanumeric() || bytes[position] == b'_')
                {
                    position += 1;
                }
                word(&source[start..position])
            }
            _ => {
                let (token, length) = operator(&bytes[position..]).ok_or_else(|| {
                    let character = source[start..].chars().next().unwrap_or('?');
                    let end = start + character.len_utf8();
                    ParseError::new(
                        source,
                        Span::new(start, end),
                        format!("unexpected character `{character}`"),
                    )
                })?;
                position += length;
                token
            }
        };
        tokens.push(Spanned {
            token,
            span: Span::new(start, position),
        });
    }
    tokens.push(Spanned {
        token: Token::End,
        span: Span::new(source.len(), source.len()),
    });
    Ok(tokens)
}

fn word(text: &str) -> Token {
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Token::Number(text.to_owned());
    }
    const KEYWORDS: [(&str, Token); 9] = [
        ("AND", Token::And),
        ("OR", Token::Or),
        ("XOR", Token::Xor),
        ("NOT", Token::Not),
        ("LIKE", Token::Like),
        ("IN", Token::In),
        ("EXISTS", Token::Exists),
        ("TRUE", Token::True),
        ("FALSE", Token::False),
    ];
    KEYWORDS
        .iter()
        .find(|(keyword, _)| keyword.eq_ignore_ascii_case(text))
        .map_or_else(|| Token::Word(text.to_owned()), |(_, token)| token.clone())
}

fn operator(bytes: &[u8]) -> Option<(Token, usize)> {
    let next = bytes.get(1).copied();
    Some(match (bytes[0], next) {
        (b'!', Some(b'=')) => (Token::NotEqual, 2),
        (b'<', Some(b'>')) => (Token::NotEqual, 2),
        (b'<', Some(b'=')) => (Token::LessOrEqual, 2),
        (b'>', Some(b'=')) => (Token::GreaterOrEqual, 2),
        (b'<', _) => (Token::Less, 1),
        (b'>', _) => (Token::Greater, 1),
        (b'=', _) => (Token::Equal, 1),
        (b'(', _) => (Token::LeftParen, 1),
        (b')', _) => (Token::RightParen, 1),
        (b',', _) => (Token::Comma, 1),
        (b'*', _) => (Token::Star, 1),
        (b'/', _) => (Token::Slash, 1),
        (b'%', _) => (Token::Percent, 1),
        (b'+', _) => (Token::Plus, 1),
        (b'-', _) => (Token::Minus, 1),
        _ => return None,
    })
}

/// Reads the string literal starting at `start` (on its opening quote); returns its
/// value and the byte offset after the closing quote.
fn string(source: &str, start: usize) -> Result<(String, usize), ParseError> {
    let quote = source.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = source[start + 1..].char_indices().peekable();
    while let Some((offset, character)) = chars.next() {
        if character == '\\' {
            match chars.next() {
                Some((_, next)) if next == quote => value.push(quote),
                Some((_, next)) => {
                    value.push('\\');
                    value.push(next);
                }
                None => value.push('\\'),
            }
        } else if character == quote {
            if chars.peek().is_some_and(|&(_, next)| next == quote) {
                chars.next();
                value.push(quote);
            } else {
                return Ok((value, start + 1 + offset + 1));
            }
        } else {
            value.push(character);
        }
    }
    Err(ParseError::new(
        source,
        Span::new(start, source.len()),
        "unterminated string literal",
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn kinds(source: &str) -> Vec<Token> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|spanned| spanned.token)
            .collect()
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            kinds("and Or xOR not Like in exists True false"),
            vec![
                Token::And,
                Token::Or,
                Token::Xor,
                Token::Not,
                Token::Like,
                Token::In,
                Token::Exists,
                Token::True,
                Token::False,
                Token::End
            ]
        );
    }

    #[test]
    fn operators_are_longest_match() {
        assert_eq!(
            kinds("<><=>=!=<>="),
            vec![
                Token::NotEqual,
                Token::LessOrEqual,
                Token::GreaterOrEqual,
                Token::NotEqual,
                Token::NotEqual,
                Token::Equal,
                Token::End
            ]
        );
    }

    #[test]
    fn string_escapes_follow_the_delimiter() {
        assert_eq!(kinds(r#"'a"b\'c'"#)[0], Token::Str("a\"b'c".into()));
        assert_eq!(kinds(r#""a'b\"c""#)[0], Token::Str("a'b\"c".into()));
        assert_eq!(kinds("'it''s'")[0], Token::Str("it's".into()));
        assert_eq!(kinds(r"'a\_b'")[0], Token::Str(r"a\_b".into()));
        assert_eq!(kinds(r"'a\\'")[0], Token::Str(r"a\\".into()));
    }

    #[test]
    fn spans_cover_tokens() {
        let tokens = tokenize("ab = 'x'").unwrap();
        assert_eq!(tokens[0].span, Span::new(0, 2));
        assert_eq!(tokens[1].span, Span::new(3, 4));
        assert_eq!(tokens[2].span, Span::new(5, 8));
        assert_eq!(tokens[3].span, Span::new(8, 8));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let error = tokenize("a = 'open").unwrap_err();
        assert_eq!(error.message, "unterminated string literal");
        assert_eq!(error.column, 5);
        let error = tokenize("a # b").unwrap_err();
        assert_eq!(error.message, "unexpected character `#`");
        assert_eq!(error.column, 3);
    }
}
