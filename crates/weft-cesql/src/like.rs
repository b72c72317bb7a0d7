//! `LIKE` patterns (CESQL v1 §3.4.3): `%` matches any run of characters, `_` exactly
//! one character, everything else itself (case-sensitive). `\%`, `\_` and `\\` match a
//! literal `%`, `_` and `\`; a backslash before any other character is itself a literal
//! backslash. Patterns are compiled once, at parse time.

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A literal character.
    Char(char),
    /// `_`.
    One,
    /// `%`.
    Many,
}

/// How a pattern is matched; the common shapes avoid the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No wildcard at all.
    Exact(String),
    /// `literal%`.
    Prefix(String),
    /// `%literal`.
    Suffix(String),
    /// `%literal%`.
    Contains(String),
    /// Anything else.
    General(Vec<Piece>),
}

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    source: String,
    shape: Shape,
}

impl LikePattern {
    /// Compiles `pattern` (the string literal's value, after literal unescaping).
    pub fn new(pattern: &str) -> Self {
        let pieces = compile(pattern);
        Self {
            source: pattern.to_owned(),
            shape: shape_of(pieces),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Exact(literal) => text == literal,
            Shape::Prefix(literal) => text.starts_with(literal.as_str()),
            Shape::Suffix(literal) => text.ends_with(literal.as_str()),
            Shape::Contains(literal) => text.contains(literal.as_str()),
            Shape::General(pieces) => matches_general(pieces, text),
        }
    }
}

fn compile(pattern: &str) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(current) = chars.next() {
        match current {
            '%' => {
                // Consecutive `%` are one `%`.
                if pieces.last() != Some(&Piece::Many) {
                    pieces.push(Piece::Many);
                }
            }
            '_' => pieces.push(Piece::One),
            '\\' => match chars.peek() {
                Some(&next @ ('%' | '_' | '\\')) => {
                    chars.next();
                    pieces.push(Piece::Char(next));
                }
                _ => pieces.push(Piece::Char('\\')),
            },
            other => pieces.push(Piece::Char(other)),
        }
    }
    pieces
}

fn literal(pieces: &[Piece]) -> Option<String> {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Char(character) => Some(*character),
            Piece::One | Piece::Many => None,
        })
        .collect()
}

fn shape_of(pieces: Vec<Piece>) -> Shape {
    if let Some(exact) = literal(&pieces) {
        return Shape::Exact(exact);
    }
    let starts_many = pieces.first() == Some(&Piece::Many);
    let ends_many = pieces.len() > 1 && pieces.last() == Some(&Piece::Many);
    let inner_start = usize::from(starts_many);
    let inner_end = pieces.len() - usize::from(ends_many);
    if inner_start <= inner_end
        && let Some(inner) = literal(&pieces[inner_start..inner_end])
    {
        match (starts_many, ends_many) {
            (false, true) => return Shape::Prefix(inner),
            (true, false) => return Shape::Suffix(inner),
            (true, true) => return Shape::Contains(inner),
            (false, false) => {}
        }
    }
    Shape::General(pieces)
}

/// Wildcard matching with single-star backtracking: linear in the common case, at worst
/// `O(pattern × text)`, never exponential.
fn matches_general(pieces: &[Piece], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut piece, mut position) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while position < text.len() {
        match pieces.get(piece) {
            Some(Piece::One) => {
                piece += 1;
                position += 1;
            }
            Some(Piece::Char(expected)) if *expected == text[position] => {
                piece += 1;
                position += 1;
            }
            Some(Piece::Many) => {
                backtrack = Some((piece, position));
                piece += 1;
            }
            _ => match backtrack {
                Some((many, start)) => {
                    piece = many + 1;
                    position = start + 1;
                    backtrack = Some((many, start + 1));
                }
                None => return false,
            },
        }
    }
    pieces[piece..].iter().all(|rest| *rest == Piece::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern).matches(text)
    }

    #[test]
    fn percent_matches_any_run_and_underscore_one_character() {
        assert!(like("abc", "a%c"));
        assert!(like("ac", "a%c"));
        assert!(!like("ab", "a%c"));
        assert!(like("abc", "a_c"));
        assert!(!like("ac", "a_c"));
        assert!(like("azzzbzzzc", "a%b%c"));
        assert!(like(".ab.cde.", ".%.%."));
        assert!(!like("ab.cde", ".%.%."));
        assert!(like("", "%"));
        assert!(!like("", "_"));
    }

    #[test]
    fn shapes_take_fast_paths() {
        assert!(like("https://x", "https://%"));
        assert!(like("com.github.error", "%.error"));
        assert!(like("a.b.c", "%.b.%"));
        assert!(!like("abc", "abcd"));
    }

    #[test]
    fn escapes_match_literally() {
        assert!(like("a_b_c", "a\\_b\\_c"));
        assert!(!like("azbzc", "a\\_b\\_c"));
        assert!(like("a%b", "a\\%b"));
        assert!(like("a\\b", "a\\\\b"));
        assert!(like("ab\\c", "ab\\c"));
    }

    #[test]
    fn matching_counts_characters_not_bytes() {
        assert!(like("é", "_"));
        assert!(like("日本語", "_本%"));
    }

    #[test]
    fn pathological_pattern_finishes() {
        let text = "a".repeat(2000);
        let pattern = format!("{}b", "%a".repeat(50));
        assert!(!like(&text, &pattern));
    }
}
